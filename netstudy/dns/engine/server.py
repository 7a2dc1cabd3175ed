"""An authoritative DNS server: the socket loop around :class:`~netstudy.dns.core.Responder`, and the
reading of zone files from disk.

``DnsServer`` is one ``selectors`` loop on a worker thread serving UDP and TCP (2-byte length framing,
RFC 1035 §4.2.2), every socket non-blocking, so a slow TCP client never stalls UDP; every query's bytes go
to ``Responder.receive`` and its reply's bytes go back. Use it as
``with DnsServer(zone, port=0) as srv: srv.port``.
"""
from __future__ import annotations

import contextlib
import heapq
import itertools
import re
import selectors
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from netstudy.dns.core import EDNS_PAYLOAD, Responder, Zone, ZoneError, parse_zone
from netstudy.errors import check_number
from netstudy.wire.dns import Name, tcp_frame, tcp_unframe

__all__ = ["DnsServer", "ServerStats", "load_zone", "DEFAULT_HOST", "SERVE_PORT"]

DEFAULT_HOST = "127.0.0.1"
MAX_DELAY = 65535          # seconds: a reply held longer than dig's longest +timeout helps no one
SERVE_PORT = 5353          # the CLI's (port 53 needs root); the class defaults to 0: the kernel picks


def load_zone(path: str | Path, origin: Name | str | None = None) -> Zone:
    """Read a master file; the origin defaults to its ``$ORIGIN`` or the file name (``example.com.zone``)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ZoneError(f"cannot read zone file {path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ZoneError(f"{path}:{line}: not a text file (byte 0x{data[exc.start]:02x} at offset {exc.start} "
                        f"is not UTF-8); a zone file is RFC 1035 master-file text") from None
    if origin is None and not re.search(r"^\$ORIGIN", text, re.M | re.I):
        origin = path.name.removesuffix(".zone") + "."
    return parse_zone(text, origin, str(path))


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
        check_number("port", port, 0, 65535, whole=True)
        check_number("delay", delay, 0, MAX_DELAY)
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
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
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
        receive = self.responder.receive
        cache = self.responder.cache
        recvfrom, sendto = udp.recvfrom, udp.sendto
        delay = self.delay
        stats = self.stats
        answered = 0
        try:                             # counted even when a signal (Ctrl-C, kill) stops the batch
            for _ in range(self.UDP_BATCH):
                try:
                    data, addr = recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:              # e.g. ECONNREFUSED reported for an earlier send: keep serving
                    continue
                stats.udp_queries += 1
                tail = cache.get(data[2:])          # receive() looks here too; inlined for the hot path
                reply = data[:2] + tail if tail is not None else receive(data)
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
        finally:
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
            reply = self.responder.receive(query, tcp=True)
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
        with contextlib.suppress(KeyError, ValueError):
            sel.unregister(sock)
        sock.close()
        self.stats.tcp_closed[reason] += 1
