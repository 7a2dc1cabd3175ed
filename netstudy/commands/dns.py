"""`netstudy dns query|serve`: ask a DNS server a question (dig-style output), or serve zone files."""
from __future__ import annotations

import argparse
import contextlib
from dataclasses import dataclass

from netstudy import __version__
from netstudy.commands.common import (
    Number,
    one_line_errors,
    port,
    seconds,
    stop_quietly_on_closed_pipe,
    stopped_by_signals,
)
from netstudy.dns import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_SERVER,
    MAX_DELAY,
    MAX_TIMEOUT,
    MAX_TRIES,
    SERVE_PORT,
    DnsServer,
    query,
)
from netstudy.dns.output import dig_text, short_text
from netstudy.errors import InputError
from netstudy.wire.dns import Name, reverse_name, type_code

QUERY_HELP = f"""dig-style arguments, in any order:
  NAME            the name to look up
  TYPE            A (default), AAAA, MX, TXT, NS, SOA, SRV, CAA, PTR, CNAME, ANY, TYPE65280 ...
  @SERVER         the server's address (default {DEFAULT_SERVER}, port {DEFAULT_PORT}; never /etc/resolv.conf)
  +tcp            ask over TCP instead of UDP
  +bufsize=N      EDNS0 UDP payload size to advertise (default 1232)
  +noedns         no OPT record: the server keeps UDP answers to 512 bytes
  +norecurse      clear the RD bit
  +short          print only the answers' data
  +timeout=S      seconds for all tries together (default 3; 0 is taken as 1, as dig does)
  +tries=N        UDP tries before giving up (default 3, at most {MAX_TRIES}; 0 is taken as 1)
  +retry=N        the same as +tries=N+1
example: netstudy dns query www.netstudy.test AAAA @127.0.0.1 -p 5353"""

QUERY_PORT = port("port")
# the dig-style words with a number, checked as the options are (commands/common.py's Number)
PLUS_NUMBERS = {
    "bufsize": Number("+bufsize", 512, 65535, whole=True),
    "timeout": seconds("+timeout", MAX_TIMEOUT, above=False),
    "tries": Number("+tries", 0, MAX_TRIES, whole=True),
    "retry": Number("+retry", 0, MAX_TRIES - 1, whole=True),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dns", help="DNS: query a server like dig, or run an authoritative server")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    one_line_errors(p, "dns")

    q = verbs.add_parser("query", help="ask a DNS server one question, print the reply like dig",
                         epilog=QUERY_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    q.add_argument("words", nargs=argparse.REMAINDER, metavar="ARG", help="NAME [TYPE] [@SERVER] [+option ...]")
    q.add_argument("-p", "--port", type=QUERY_PORT, default=DEFAULT_PORT, help=f"server port (default {DEFAULT_PORT})")
    q.add_argument("-x", dest="reverse", metavar="ADDR", help="reverse lookup: PTR for this address")
    one_line_errors(q, "dns query")
    q.set_defaults(func=stop_quietly_on_closed_pipe(run_query))

    s = verbs.add_parser("serve", help="serve RFC 1035 zone files on UDP and TCP until Ctrl-C")
    s.add_argument("zonefiles", nargs="+", metavar="ZONEFILE",
                   help="master file(s), e.g. netstudy/data/zones/netstudy.test.zone")
    s.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    s.add_argument("--port", type=port("port", low=0), default=SERVE_PORT,
                   help=f"UDP and TCP port (default {SERVE_PORT}; 0: any free port)")
    s.add_argument("--delay", type=seconds("delay", MAX_DELAY, above=False), default=0.0, metavar="S",
                   help="hold every reply S seconds (without blocking the server), for experiments")
    one_line_errors(s, "dns serve")
    s.set_defaults(func=run_serve)


@dataclass
class _Query:
    """What one ``netstudy dns query`` asks, from its dig-style words."""

    name: Name | str = ""
    qtype: str = "A"
    server: str = DEFAULT_SERVER
    tcp: bool = False
    edns: int | None = 1232
    rd: bool = True
    short: bool = False
    timeout: float = 3.0
    tries: int = 3


def _options(args: argparse.Namespace) -> _Query:
    """Sort dig-style words into name, type, server and + options; InputError naming a bad one."""
    opts = _Query()
    plain = []
    words = iter(args.words)
    for word in words:
        if word in ("-p", "-x"):             # dig lets options follow the name; argparse stops at it
            value = next(words, None)
            if value is None:
                raise InputError(f"{word} needs a value")
            if word == "-p":
                try:
                    args.port = QUERY_PORT.parse(value)
                except InputError as exc:
                    raise InputError(f"argument -p: {exc}") from None
            else:
                args.reverse = value
        elif word.startswith("@"):
            opts.server = word[1:]
        elif word.startswith("+"):
            key, _, value = word[1:].partition("=")
            if key in PLUS_NUMBERS:
                number = PLUS_NUMBERS[key].parse(value)
                if key == "bufsize":
                    opts.edns = int(number)
                elif key == "timeout":
                    opts.timeout = float(number) or 1.0          # dig: "less than 1 is set to 1"
                else:
                    opts.tries = max(int(number) + (key == "retry"), 1)
            elif key in ("tcp", "vc"):
                opts.tcp = True
            elif key in ("notcp", "novc"):
                opts.tcp = False
            elif key == "noedns":
                opts.edns = None
            elif key == "edns":
                opts.edns = opts.edns or 1232
            elif key in ("norecurse", "norec"):
                opts.rd = False
            elif key in ("recurse", "rec"):
                opts.rd = True
            elif key == "short":
                opts.short = True
            else:
                raise InputError(f"unknown or malformed option {word!r} (see netstudy dns query --help)")
        else:
            plain.append(word)
    if args.reverse:
        if plain:
            raise InputError(f"-x {args.reverse} asks for its PTR record; drop {' '.join(plain)!r}")
        try:
            opts.name, opts.qtype = reverse_name(args.reverse), "PTR"
        except ValueError as exc:       # (a plain ValueError from wire's codecs)
            raise InputError(str(exc)) from None
    else:
        if not plain:
            raise InputError("no name to look up (usage: netstudy dns query NAME [TYPE] [@SERVER])")
        if len(plain) > 2:
            raise InputError(f"too many arguments: {' '.join(plain)} (NAME [TYPE] expected)")
        if len(plain) == 2 and _is_type(plain[0]) and not _is_type(plain[1]):
            plain.reverse()                 # dig also takes TYPE NAME
        opts.name = plain[0]
        if len(plain) == 2:
            opts.qtype = plain[1]
    try:
        type_code(opts.qtype)       # a bad type is one clear line before any packet is sent
    except ValueError as exc:       # (wire's codecs raise a plain ValueError for it)
        raise InputError(str(exc)) from None
    return opts


def _is_type(word: str) -> bool:
    try:
        type_code(word)
    except ValueError:
        return False
    return True


def run_query(args: argparse.Namespace) -> int:
    o = _options(args)
    lookup = query(o.name, o.qtype, o.server, args.port, timeout=o.timeout, tries=o.tries,
                   tcp=o.tcp, edns=o.edns, rd=o.rd)
    if o.short:
        print(short_text(lookup), end="")
    else:
        print(dig_text(lookup, f"netstudy dns {__version__} <<>> {' '.join(_echo(args))}"), end="")
    return 0


def _echo(args: argparse.Namespace) -> list[str]:
    words = list(args.words)
    if args.port != DEFAULT_PORT and "-p" not in words:
        words[:0] = ["-p", str(args.port)]
    if args.reverse and "-x" not in words:
        words[:0] = ["-x", args.reverse]
    return words


def run_serve(args: argparse.Namespace) -> int:
    server = DnsServer(args.zonefiles, host=args.host, port=args.port, delay=args.delay)
    server.bind()
    with contextlib.suppress(KeyboardInterrupt), stopped_by_signals():    # Ctrl-C, kill: the statistics
        for zone in server.responder.zones.values():
            print(f"zone {zone.origin}: {len(zone)} records")
        print(f"serving on {args.host} port {server.port} (UDP and TCP); Ctrl-C to stop", flush=True)
        server.serve_forever()
    st = server.stats
    print(f"\n{st.udp_queries} UDP and {st.tcp_queries} TCP queries, {st.replies} replies, {st.dropped} dropped")
    return 0
