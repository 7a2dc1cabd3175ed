"""`netstudy p2p NAME`: an interactive peer of the serverless chat (loopback unless --iface is given)."""
from __future__ import annotations

import argparse

from netstudy.commands.common import (
    add_family_flags,
    count,
    one_line_errors,
    port,
    seconds,
    stop_quietly_on_closed_pipe,
)
from netstudy.p2p.core import DISCOVERY_GROUP, DISCOVERY_GROUP6, DISCOVERY_PORT, check_name


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("p2p", help="a peer-to-peer chat: no server, peers find each other and gossip",
                       description="Join the serverless chat as NAME. Peers on this machine find each other on "
                                   "loopback (multicast on lo, nothing leaves the machine); --iface IFACE uses "
                                   "a LAN interface instead; -6 with --iface discovers by IPv6 link-local multicast "
                                   f"({DISCOVERY_GROUP6}) and links to link-local addresses. Type a line to "
                                   "say it to everyone; /peers, "
                                   "/msg NAME text, /quit.")
    p.add_argument("name", metavar="NAME", help="your name: up to 16 bytes, no spaces")
    p.add_argument("--iface", metavar="IFACE",
                   help="discover and link on this interface (multicast TTL 1); default: loopback only")
    p.add_argument("--port", type=port("--port", low=0), default=0,
                   help="TCP port for links from other peers (default: any free port)")
    add_family_flags(p)
    p.add_argument("--group", help=f"multicast group (default {DISCOVERY_GROUP}, with -6 {DISCOVERY_GROUP6})")
    p.add_argument("--discovery-port", type=port("--discovery-port"), default=DISCOVERY_PORT, metavar="N",
                   help=f"UDP port of the announcements (default {DISCOVERY_PORT})")
    p.add_argument("--broadcast", action="store_true",
                   help="announce to the interface's broadcast address instead of multicast (needs --iface)")
    p.add_argument("--links", type=count("--links", 1, 64), default=2, metavar="K",
                   help="links to the next K peers on the ring of ids (default 2)")
    p.add_argument("--interval", type=seconds("--interval", 60), default=0.5, metavar="S",
                   help="seconds between announcements (default 0.5)")
    p.add_argument("--timeout", type=seconds("--timeout", 3600), default=3.0, metavar="S",
                   help="seconds of silence before a peer is gone (default 3)")
    one_line_errors(p, "p2p")
    p.set_defaults(func=stop_quietly_on_closed_pipe(run))


def run(args: argparse.Namespace) -> int:
    from netstudy.p2p.engine import Peer, run_terminal
    from netstudy.p2p.output import HELP, peers_text, render
    check_name(args.name)
    peer = Peer(args.name, port=args.port, iface=args.iface, group=args.group, discovery_port=args.discovery_port,
                broadcast=args.broadcast, family=args.version or 4, interval=args.interval, timeout=args.timeout,
                links=args.links)
    return run_terminal(peer, render, peers_text, HELP)
