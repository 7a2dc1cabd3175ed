"""`netstudy chat serve|join`: run a chat server, or join one from the terminal."""
from __future__ import annotations

import argparse
import logging
import signal
import sys

from netstudy.chat import DEFAULT_HOST, DEFAULT_PORT, ChatServer, ThreadedChatServer
from netstudy.chat.engine.server import MAX_TIMEOUT
from netstudy.commands.common import one_line_errors, port, seconds, stop_quietly_on_closed_pipe


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chat", help="a TCP chat room: run a server or join one")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    one_line_errors(p, "chat")

    serve = verbs.add_parser("serve", help="run a chat server until Ctrl-C (nc and telnet are clients too)")
    serve.add_argument("--threaded", action="store_true",
                       help="one thread per client (the lesson's first server) instead of the event loop")
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    serve.add_argument("--port", type=port("port", low=0), default=DEFAULT_PORT,
                       help=f"TCP port (default {DEFAULT_PORT}; 0: the kernel picks one)")
    serve.add_argument("--idle-timeout", type=seconds("idle timeout", MAX_TIMEOUT), default=600.0, metavar="S",
                       help="disconnect clients silent for S seconds (default 600)")
    one_line_errors(serve, "chat serve")
    serve.set_defaults(func=run_serve)

    join = verbs.add_parser("join", help="join a chat server as NICK")
    join.add_argument("nick", metavar="NICK")
    join.add_argument("--host", default=DEFAULT_HOST, help=f"server address (default {DEFAULT_HOST})")
    join.add_argument("--port", type=port(), default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    join.add_argument("--no-colour", action="store_true", help="plain text even on a terminal")
    one_line_errors(join, "chat join")
    join.set_defaults(func=stop_quietly_on_closed_pipe(run_join))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt         # exit status 130, as for a Ctrl-C


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # 143, as a program killed by SIGTERM; `finally` still stops the server


def run_serve(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM; either way the clients are told, every socket is closed and the
    last log line gives the statistics."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    # set, not inherited: a shell starts `chat serve &` with SIGINT ignored, and a Ctrl-C must still stop it
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _terminate)
    cls = ThreadedChatServer if args.threaded else ChatServer
    cls(args.host, args.port, idle_timeout=args.idle_timeout).serve_forever()
    return 0


def run_join(args: argparse.Namespace) -> int:
    from netstudy.chat.engine import run_terminal
    from netstudy.chat.output import render
    colour = not args.no_colour and sys.stdout.isatty()
    return run_terminal(args.nick, args.host, args.port, render=lambda line: render(line, colour))
