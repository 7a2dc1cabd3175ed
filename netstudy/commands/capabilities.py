"""`netstudy capabilities`: what this machine lets this process do."""
from __future__ import annotations

import argparse

from netstudy.capabilities import capabilities


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("capabilities", help="show which sockets and namespaces this process may use")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(capabilities())
    return 0
