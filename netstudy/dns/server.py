"""An authoritative DNS server: sans-I/O answering logic (:class:`Responder`) under one event loop.

``Responder.respond(query_bytes, tcp)`` is the whole protocol: bytes in, bytes (or None: drop) out.
It answers from its zones with AA set, follows CNAME chains inside them, tells NXDOMAIN from NODATA
(the SOA in the authority section, RFC 2308), refers delegations with NS and glue, honours the EDNS0
payload size and sets TC when the answer does not fit (RFC 6891 §7), and answers REFUSED outside its
zones (it never recurses or forwards), FORMERR for malformed queries, NOTIMP for opcodes other than
QUERY, BADVERS for EDNS versions other than 0. Unknown EDNS options (dig's COOKIE) are ignored.

Because the zones do not change while it runs, a reply depends only on the query bytes after the ID:
the responder keeps the encoded reply per query (``cache``) and a repeat costs one dict lookup and
an ID patch. ``DnsServer`` is the socket loop around it: one ``selectors`` loop on a worker thread
serving UDP and TCP (2-byte length framing, RFC 1035 §4.2.2), every socket non-blocking, so a slow
TCP client never stalls UDP. Use it as ``with DnsServer(zone, port=0) as srv: srv.port``.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import selectors
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from netstudy.dns.zone import Zone, load_zone
from netstudy.errors import DecodeError
from netstudy.wire.dns import AAAA, CNAME, MX, NS, OPT, SRV, A, Message, Name, Record, make_opt, tcp_frame, tcp_unframe

__all__ = ["Responder", "DnsServer", "ServerStats", "DEFAULT_HOST", "DEFAULT_PORT"]

log = logging.getLogger("netstudy.dns")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5353        # the CLI's (port 53 needs root); the class defaults to 0: the kernel picks
EDNS_PAYLOAD = 1232        # what we advertise and the most we send over UDP (DNS flag day 2020)
MAX_CHAIN = 16             # CNAMEs followed inside our zones before giving up
CACHE_LIMIT = 50_000       # cached replies kept before the cache starts over
ANY, AXFR, IXFR = 255, 252, 251
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
BADVERS = 16


class Responder:
    """Answers DNS queries from zones: the server's protocol logic, with no sockets (sans-I/O)."""

    def __init__(self, zones: Zone | Iterable[Zone], max_udp: int = EDNS_PAYLOAD) -> None:
        zones = [zones] if isinstance(zones, Zone) else list(zones)
        self.zones = {z.origin: z for z in zones}
        self.max_udp = max_udp
        self.cache: dict[bytes, bytes] = {}           # query after its ID -> reply after its ID (UDP)
        self.tcp_cache: dict[bytes, bytes] = {}
        self.rcodes: Counter[str] = Counter()         # replies built (not cached ones) by rcode name

    # -- bytes in, bytes out -------------------------------------------------------------------------

    def respond(self, data: bytes, tcp: bool = False) -> bytes | None:
        """The reply to one query message, or None when it must be dropped (too short, or a response)."""
        cache = self.tcp_cache if tcp else self.cache
        tail = cache.get(data[2:])
        if tail is not None:
            return data[:2] + tail
        if len(data) < 12 or data[2] & 0x80:        # no header to answer, or a response: never reply
            return None
        try:
            query = Message.parse(data)
        except DecodeError:
            self.rcodes["FORMERR"] += 1
            return self._formerr(data)
        reply = self.answer(query)
        wire = reply.to_wire()
        limit = 65535 if tcp else self._udp_limit(query)
        if len(wire) > limit:
            wire = self._truncated(reply).to_wire()
        self.rcodes[reply.status] += 1
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[data[2:]] = wire[2:]
        return wire

    def _udp_limit(self, query: Message) -> int:
        opt = query.opt
        return 512 if opt is None else max(512, min(opt.payload_size, self.max_udp))

    @staticmethod
    def _formerr(data: bytes) -> bytes:
        """FORMERR with the ID, opcode and RD echoed and no sections (the query could not be read)."""
        ident, flags = struct.unpack_from("!HH", data)
        return struct.pack("!HHHHHH", ident, 0x8000 | (flags & 0x7900) | FORMERR, 0, 0, 0, 0)

    @staticmethod
    def _truncated(reply: Message) -> Message:
        """TC set, records dropped (the question and OPT stay): the client retries over TCP (RFC 2181 §9)."""
        short = Message(id=reply.id, qr=True, opcode=reply.opcode, aa=reply.aa, tc=True, rd=reply.rd,
                        cd=reply.cd, rcode=reply.rcode, question=list(reply.question))
        opt = reply.opt
        if opt is not None:
            short.additional.append(opt)
        return short

    # -- the answer as a message --------------------------------------------------------------------

    def answer(self, query: Message) -> Message:
        """The reply message to a parsed query (RFC 1034 §4.3.2, without recursion or wildcards)."""
        opt = query.opt
        if query.opcode != 0:
            return self._with_opt(query.reply(NOTIMP), opt)
        if len(query.question) != 1 or query.qr:
            return self._with_opt(query.reply(FORMERR), opt)
        if opt is not None and opt.edns_version != 0:
            reply = query.reply(BADVERS & 0xF)
            reply.additional.append(make_opt(EDNS_PAYLOAD, extended_rcode=BADVERS >> 4))
            return reply
        q = query.question[0]
        zone = self._zone_for(q.name)
        if zone is None or q.cls not in (1, ANY) or q.type in (AXFR, IXFR, OPT.TYPE):
            return self._with_opt(query.reply(REFUSED), opt)
        reply = query.reply(NOERROR, aa=True)
        self._resolve(zone, q.name, q.type, reply)
        self._add_glue(reply)
        return self._with_opt(reply, opt)

    @staticmethod
    def _with_opt(reply: Message, opt: Record | None) -> Message:
        if opt is not None:
            reply.additional.append(make_opt(EDNS_PAYLOAD))
        return reply

    def _zone_for(self, name: Name) -> Zone | None:
        """The closest enclosing zone we are authoritative for."""
        labels = name.labels
        for i in range(len(labels) + 1):
            zone = self.zones.get(Name._trusted(labels[i:]))
            if zone is not None:
                return zone
        return None

    def _resolve(self, zone: Zone, name: Name, qtype: int, reply: Message) -> None:
        seen: set[Name] = set()
        for _ in range(MAX_CHAIN):
            if name in seen:
                break                                      # a CNAME loop in the zone data
            seen.add(name)
            cut = zone.cut(name)
            if cut is not None:
                # a referral (RFC 1034 §4.3.2 step 3b): not authoritative below the cut
                if not reply.answer:
                    reply.aa = False
                reply.authority.extend(zone.get(cut, NS.TYPE))
                return
            node = zone.nodes.get(name)
            if node is None:
                if zone.has_descendants(name):
                    self._negative(zone, reply)            # empty non-terminal: NODATA
                else:
                    self._negative(zone, reply, NXDOMAIN)
                return
            if qtype == ANY:
                reply.answer.extend(rr for rrset in node.values() for rr in rrset)
                return
            if qtype in node:
                reply.answer.extend(node[qtype])
                return
            cname = node.get(CNAME.TYPE)
            if cname:
                reply.answer.extend(cname)
                name = cname[0].rdata.target  # type: ignore[attr-defined]
                if not name.is_subdomain(zone.origin):
                    other = self._zone_for(name)
                    if other is None:
                        return                             # leaves our zones: the CNAME is the answer
                    zone = other
                continue
            self._negative(zone, reply)                    # the name exists, not this type: NODATA
            return
        reply.rcode = SERVFAIL                             # a CNAME loop, or a chain longer than MAX_CHAIN

    @staticmethod
    def _negative(zone: Zone, reply: Message, rcode: int = NOERROR) -> None:
        """NXDOMAIN or NODATA: the SOA in the authority section, TTL capped by its minimum (RFC 2308 §3)."""
        soa = zone.soa
        reply.rcode = rcode
        reply.authority.append(Record(soa.name, soa.rdata, min(soa.ttl, soa.rdata.minimum)))  # type: ignore

    def _add_glue(self, reply: Message) -> None:
        """Addresses of the NS, MX and SRV targets we know (RFC 1034 §3.7; glue for referrals)."""
        seen = {(rr.name, rr.type) for rr in reply.answer}
        for rr in reply.answer + reply.authority:
            if rr.type not in (NS.TYPE, MX.TYPE, SRV.TYPE):
                continue
            target = rr.rdata.exchange if rr.type == MX.TYPE else rr.rdata.target  # type: ignore[attr-defined]
            zone = self._zone_for(target)
            if zone is None:
                continue
            for rtype in (A.TYPE, AAAA.TYPE):
                if (target, rtype) not in seen:
                    seen.add((target, rtype))
                    reply.additional.extend(zone.get(target, rtype))


# ----------------------------------------------------------------------------------------------------
# the socket loop

@dataclass
class ServerStats:
    """What the loop did: datagrams and TCP messages in, replies out, drops, TCP connections."""

    udp_queries: int = 0
    tcp_queries: int = 0
    replies: int = 0
    dropped: int = 0
    tcp_connections: int = 0
    tcp_closed: Counter = field(default_factory=Counter)   # reason -> count


class _TcpConn:
    __slots__ = ("sock", "inbuf", "outbuf", "last")

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.inbuf, self.outbuf, self.last = sock, bytearray(), bytearray(), time.monotonic()


def _zones_from(zones: Zone | str | Path | Iterable[Zone | str | Path]) -> list[Zone]:
    items = [zones] if isinstance(zones, (Zone, str, Path)) else list(zones)
    return [z if isinstance(z, Zone) else load_zone(z) for z in items]


class DnsServer:
    """An authoritative server for ``zones`` on UDP and TCP ``host:port``, one selectors loop, one thread.

    ``delay`` (seconds) holds every reply back that long without blocking the loop: the notebook uses it
    to show what blocking clients lose. ``port=0`` lets the kernel pick a port free for both UDP and TCP.
    """

    IDLE_TIMEOUT = 10.0          # a TCP connection silent this long is closed (RFC 7766 §6.2.3)
    MAX_TCP = 512                # open TCP connections at once; more are closed at accept
    UDP_BATCH = 256              # datagrams read per wake-up before TCP gets a turn
    MAX_OUTBUF = 1 << 20         # unsent TCP reply bytes before a client that does not read is cut off
    MAX_PENDING = 100_000        # delayed UDP replies held at once; beyond that they are dropped

    def __init__(self, zones: Zone | str | Path | Iterable[Zone | str | Path], host: str = DEFAULT_HOST,
                 port: int = 0, delay: float = 0.0, tcp: bool = True, max_udp: int = EDNS_PAYLOAD) -> None:
        self.responder = Responder(_zones_from(zones), max_udp)
        self.host, self._want_port, self.delay, self.tcp = host, port, delay, tcp
        self.stats = ServerStats()
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._running = False

    # -- lifecycle -----------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._udp is None:
            raise RuntimeError("the server is not started")
        return self._udp.getsockname()[1]

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def bind(self) -> None:
        """Open the UDP and TCP sockets (``start`` and ``serve_forever`` do it if not done yet)."""
        if self._udp is not None:
            return
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        for attempt in range(20):
            udp = socket.socket(family, socket.SOCK_DGRAM)
            udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            udp.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
            try:
                udp.bind((self.host, self._want_port))
            except OSError as exc:
                udp.close()
                raise OSError(exc.errno, f"cannot listen on {self.host} UDP port {self._want_port}: "
                                         f"{exc.strerror}") from None
            port = udp.getsockname()[1]
            if not self.tcp:
                self._udp = udp
                return
            tcp = socket.socket(family, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind((self.host, port))
            except OSError as exc:
                udp.close()
                tcp.close()
                if self._want_port == 0 and attempt < 19:
                    continue                       # that UDP port's TCP twin is taken: try another
                raise OSError(exc.errno, f"cannot listen on {self.host} TCP port {port}: {exc.strerror}") from None
            tcp.listen(128)
            self._udp, self._tcp = udp, tcp
            return

    def start(self) -> DnsServer:
        """Bind UDP (and TCP) and run the loop on a worker thread; returns self."""
        self.bind()
        self._wake_r, self._wake_w = socket.socketpair()
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="DnsServer", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Run the loop on this thread until Ctrl-C (the CLI)."""
        self.bind()
        self._wake_r, self._wake_w = socket.socketpair()
        self._running = True
        try:
            self._loop()
        finally:
            self._running = False
            self._close()

    def stop(self) -> None:
        """Stop the loop, close every socket; safe to call twice."""
        if not self._running:
            return
        self._running = False
        if self._wake_w is not None:
            try:
                self._wake_w.send(b"x")
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        self._close()

    def _close(self) -> None:
        for s in (self._udp, self._tcp, self._wake_r, self._wake_w):
            if s is not None:
                s.close()
        self._udp = self._tcp = self._wake_r = self._wake_w = None

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the loop ------------------------------------------------------------------------------------

    def _loop(self) -> None:
        sel = selectors.DefaultSelector()
        udp = self._udp
        assert udp is not None and self._wake_r is not None
        udp.setblocking(False)
        sel.register(udp, selectors.EVENT_READ, "udp")
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        if self._tcp is not None:
            self._tcp.setblocking(False)
            sel.register(self._tcp, selectors.EVENT_READ, "listen")
        conns: dict[socket.socket, _TcpConn] = {}
        pending: list[tuple[float, int, bytes, tuple]] = []     # delayed UDP replies: (due, seq, data, addr)
        seq = itertools.count()
        next_sweep = time.monotonic() + 1.0
        try:
            while self._running:
                timeout = 1.0
                if pending:
                    timeout = max(0.0, min(timeout, pending[0][0] - time.monotonic()))
                for key, events in sel.select(timeout):
                    what = key.data
                    if what == "udp":
                        self._read_udp(udp, pending, seq)
                    elif what == "listen":
                        self._accept(sel, conns)
                    elif what == "wake":
                        return
                    else:
                        self._tcp_event(sel, conns, key.fileobj, events)  # type: ignore[arg-type]
                now = time.monotonic()
                while pending and pending[0][0] <= now:
                    _, _, reply, addr = heapq.heappop(pending)
                    self._sendto(udp, reply, addr)
                if now >= next_sweep:
                    next_sweep = now + 1.0
                    for sock, conn in list(conns.items()):
                        if now - conn.last > self.IDLE_TIMEOUT:
                            self._drop(sel, conns, sock, "idle")
        finally:
            for sock in list(conns):
                self._drop(sel, conns, sock, "server stopped")
            sel.close()

    def _read_udp(self, udp: socket.socket, pending: list, seq: itertools.count) -> None:
        """The hot path: read up to a batch of datagrams, answer each from the cache when it can."""
        respond = self.responder.respond
        cache = self.responder.cache
        recvfrom, sendto = udp.recvfrom, udp.sendto
        delay = self.delay
        stats = self.stats
        answered = 0
        for _ in range(self.UDP_BATCH):
            try:
                data, addr = recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:              # e.g. ECONNREFUSED reported for an earlier send: keep serving
                continue
            stats.udp_queries += 1
            tail = cache.get(data[2:])          # respond() looks here too; inlined for the hot path
            reply = data[:2] + tail if tail is not None else respond(data)
            if reply is None:
                stats.dropped += 1
                continue
            answered += 1
            if delay:
                if len(pending) < self.MAX_PENDING:
                    heapq.heappush(pending, (time.monotonic() + delay, next(seq), reply, addr))
                else:
                    stats.dropped += 1
                    answered -= 1
                continue
            try:
                sendto(reply, addr)
            except BlockingIOError:
                stats.dropped += 1       # the send buffer is full: UDP may drop, the client retries
                answered -= 1
            except OSError:
                answered -= 1
        stats.replies += answered

    def _sendto(self, udp: socket.socket, reply: bytes, addr: tuple) -> None:
        try:
            udp.sendto(reply, addr)
        except OSError:
            self.stats.dropped += 1

    def _accept(self, sel: selectors.BaseSelector, conns: dict[socket.socket, _TcpConn]) -> None:
        assert self._tcp is not None
        for _ in range(64):
            try:
                sock, _ = self._tcp.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if len(conns) >= self.MAX_TCP:
                sock.close()
                self.stats.tcp_closed["too many connections"] += 1
                continue
            sock.setblocking(False)
            conns[sock] = _TcpConn(sock)
            sel.register(sock, selectors.EVENT_READ, "tcp")
            self.stats.tcp_connections += 1

    def _tcp_event(self, sel: selectors.BaseSelector, conns: dict[socket.socket, _TcpConn],
                   sock: socket.socket, events: int) -> None:
        conn = conns.get(sock)
        if conn is None:
            return
        if events & selectors.EVENT_READ:
            try:
                data = sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                self._drop(sel, conns, sock, "reset")
                return
            if data == b"":
                self._drop(sel, conns, sock, "closed by client")
                return
            if data:
                conn.last = time.monotonic()
                conn.inbuf += data
                if not self._tcp_messages(conn):
                    self._drop(sel, conns, sock, "malformed or not reading")
                    return
        if conn.outbuf:
            try:
                sent = sock.send(conn.outbuf)
                del conn.outbuf[:sent]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self._drop(sel, conns, sock, "reset")
                return
        sel.modify(sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.outbuf else 0), "tcp")

    def _tcp_messages(self, conn: _TcpConn) -> bool:
        """Answer every whole length-prefixed message in the buffer (RFC 1035 §4.2.2); False to hang up."""
        for query in tcp_unframe(conn.inbuf):
            self.stats.tcp_queries += 1
            reply = self.responder.respond(query, tcp=True)
            if reply is None:
                self.stats.dropped += 1
                return False          # nothing sensible to say to a stream that sends junk
            conn.outbuf += tcp_frame(reply)
            self.stats.replies += 1
            if len(conn.outbuf) > self.MAX_OUTBUF:
                return False          # it asks and never reads: cut it off rather than buffer forever
        return True

    def _drop(self, sel: selectors.BaseSelector, conns: dict[socket.socket, _TcpConn], sock: socket.socket,
              reason: str) -> None:
        conns.pop(sock, None)
        try:
            sel.unregister(sock)
        except (KeyError, ValueError):
            pass
        sock.close()
        self.stats.tcp_closed[reason] += 1
