"""The sockets and the clock around ping's and traceroute's bookkeeping (``netstudy.icmp.core``).

Ping: each probe is an echo request with our identifier, the next sequence number and the send time in
its payload (built by ``netstudy.wire.echo.EchoTemplate``); every reply and error goes to a
:class:`ProbeLog`. ``ping("127.0.0.1", count=5)`` is a plain synchronous call (a ``selectors`` loop,
fine inside Jupyter) returning a :class:`PingResult`; ``Ping(...).run()`` yields each record as it
arrives (what the CLI prints line by line); ``await ping_async(...)`` runs it on a worker thread;
``replay(capture)`` rebuilds a run from a recorded capture.

Traceroute: probes with TTL 1, 2, 3, ... an ICMP echo (the default, like ``traceroute -I``) or a UDP
datagram to a high port (33434 and up, traceroute's classic probe), up to ``parallel`` in flight at once
(like traceroute's -N 16), every answer filed by a :class:`ProbeTable`. ``traceroute(host)``,
``Traceroute(...).run()`` yielding each :class:`Hop`, ``traceroute_async``, ``replay_trace(capture)``.

Mechanisms (``netstudy.net``): a raw ICMP socket when privileged; otherwise ICMP probes go through the
kernel's unprivileged ICMP socket (if ``net.ipv4.ping_group_range`` allows) and UDP probes through a
plain UDP socket, both reading ICMP errors from the kernel's error queue (``IP_RECVERR``, ip(7)).
"""
from __future__ import annotations

import asyncio
import os
import selectors
import socket
import time
from collections.abc import Iterable, Iterator
from typing import Any

from netstudy.errors import InputError, PrivilegeError, check_number
from netstudy.icmp.core import (
    SETTLED,
    Hop,
    PingResult,
    PingSummary,
    Probe,
    ProbeLog,
    ProbeTable,
    TraceProbe,
    TracerouteResult,
    canonical,
    summarize,
)
from netstudy.net import IcmpSocket, UdpProbeSocket, check_ttl, resolve
from netstudy.wire import ICMP, UDP, ICMPEcho, decode
from netstudy.wire.echo import (
    IPV4_PLAIN_LENGTH,
    IPV4_PLAIN_START,
    IPV4_TTL_SOURCE,
    TIMESTAMP_BYTES,
    EchoTemplate,
    read_ipv4_datagram,
    read_message,
)
from netstudy.wire.icmpv6 import ICMPv6, ICMPv6Echo

MIN_USER_INTERVAL = 0.002      # iputils 20221126: "minimal interval allowed for user is 2ms" (root: none)
FLOOD_RESEND_NS = 10_000_000   # interval 0: the next probe when the reply is back, or 100 per second
MAX_PAYLOAD = {4: 65507, 6: 65527}   # 65535 minus the ICMP header (8), and IPv4's (20): IPv6's length excludes its own
BASE_PORT = 33434              # traceroute's first UDP port (RFC 1393 §2 lists 33434 as its base too)
IP_HEADER = {4: 20, 6: 40}
MAX_SECONDS = 2147483          # iputils' longest -i and -W (INT_MAX milliseconds); traceroute's -w too
MAX_COUNT = 2**63 - 1          # iputils' -c: 1 <= value <= LONG_MAX
MAX_DEADLINE = 2147483647      # iputils' -w: 0 <= value <= INT_MAX seconds
MAX_QUERIES = 10               # traceroute: "no more than 10 probes per hop"
MAX_PACKET = 65000             # traceroute's largest packetlen


# -- ping ------------------------------------------------------------------------------------------------
class Ping:
    """One ping run to ``host``, with iputils' options.

    ``count`` probes (None: until ``deadline`` or Ctrl-C), one every ``interval`` seconds (0: flood,
    the next as soon as the reply is back; below 2 ms only for root, like iputils); ``size`` payload
    bytes; ``ttl``; ``timeout`` (-W): after the last probe wait this long for answers when none came
    (else twice the slowest RTT), and a reply slower than this is ``late``; ``deadline`` (-w): stop
    after this many seconds whatever happens; ``source`` (-I): address or interface to send from;
    ``version``: 4 or 6 (default: what the name resolves to, IPv4 first); ``mechanism``: ``auto``,
    ``raw`` or ``datagram``. A value that cannot be used raises :class:`InputError`.
    """

    def __init__(self, host: str, *, count: int | None = None, interval: float = 1.0, size: int = 56,
                 ttl: int | None = None, timeout: float = 10.0, deadline: float | None = None,
                 source: str | None = None, version: int | None = None, mechanism: str = "auto") -> None:
        if count is not None:
            check_number("count", count, 1, MAX_COUNT, whole=True)
        check_number("interval", interval, 0, MAX_SECONDS)
        if interval < MIN_USER_INTERVAL and os.geteuid() != 0:
            raise InputError(f"cannot flood; minimal interval allowed for user is {MIN_USER_INTERVAL * 1000:g}ms")
        check_number("timeout", timeout, 0, MAX_SECONDS, above=True)
        if deadline is not None:
            check_number("deadline", deadline, 0, MAX_DEADLINE, above=True)
        check_number("size", size, 0, MAX_PAYLOAD[6], whole=True)
        if ttl is not None:
            check_ttl(ttl)          # every argument is checked before a socket is asked for, as iputils does
        self.host, self.count, self.interval = host, count, interval
        self.timeout, self.deadline, self.source = timeout, deadline, source
        self.version, self.address = resolve(host, version)
        if not 0 <= size <= MAX_PAYLOAD[self.version]:
            raise InputError(f"invalid argument: '{size}': out of range: 0 <= value <= {MAX_PAYLOAD[self.version]}")
        self.size = size
        self.socket = IcmpSocket(self.version, mechanism, source)
        try:
            if ttl is not None:
                self.socket.set_ttl(ttl)
            self.template = EchoTemplate(self.socket.identifier, size, self.version)
        except BaseException:
            self.socket.close()
            raise
        self.mechanism, self.identifier = self.socket.mechanism, self.socket.identifier
        self.log = ProbeLog(self.identifier, self.address, int(timeout * 1e9))
        self._start_ns = self._end_ns = 0

    # -- context manager --
    def close(self) -> None:
        self.socket.close()

    def __enter__(self) -> Ping:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running --
    def run(self) -> Iterator[Probe]:
        """Send and receive until done, yielding each reply, duplicate and error record as it comes.

        Stops when ``count`` probes are all answered, or, after the last one, when the wait for
        stragglers ends (iputils: twice the slowest RTT if anything came back, else ``timeout``), or
        at ``deadline``. Interrupting the loop (Ctrl-C) leaves the records and summary as they are.

        This loop is the pinger's hot path (a flood sends a probe per turn), so what it calls is bound
        to local names before it starts, and on a raw IPv4 socket the datagram it reads most, the echo
        reply to the latest probe, is recognised by comparing its bytes with the reply the template
        expects (:attr:`EchoTemplate.reply`): equal bytes need no decoding and no checksum check, and
        everything else is decoded in full (:func:`read_ipv4_datagram`, :meth:`ProbeLog.receive`)."""
        perf, wall = time.perf_counter_ns, time.time_ns
        selector = selectors.DefaultSelector()
        selector.register(self.socket, selectors.EVENT_READ)
        flood = self.interval == 0
        step = FLOOD_RESEND_NS if flood else int(self.interval * 1e9)
        count, log = self.count, self.log
        probes, sent, receive, reply, select = log.probes, log.sent, log.receive, log.reply, selector.select
        stamp, expected, send = self.template.request, self.template.reply, self.socket.sender(self.address)
        raw4 = self.socket.mechanism == "raw" and self.version == 4
        read, recv_into, buffer = self.socket.read, self.socket.sock.recv_into, bytearray(65536)
        address, target = self.address, socket.inet_aton(self.address) if self.version == 4 else b""
        ttl_source = IPV4_TTL_SOURCE.read
        start = self._start_ns = perf()
        stop_at = start + int(self.deadline * 1e9) if self.deadline is not None else None
        next_send, linger_until, sending = start, None, True
        lingered = False
        record: Probe | None
        try:
            while True:
                now = perf()
                if stop_at is not None and now >= stop_at:
                    break
                if sending and now >= next_send:
                    seq = len(probes) + 1
                    packet = stamp(seq, wall())
                    probe = sent(perf())
                    next_send = probe.sent_ns + step
                    sending = count is None or seq < count
                    if not sending and stop_at is None:
                        linger_until = self._linger_until()
                    try:
                        send(packet)
                    except OSError as exc:      # iputils counts a local send error as an error
                        log.send_failed(probe, exc.strerror or str(exc))
                        yield probe
                if count is not None and log.answered >= count:
                    break
                # what is already there (on loopback: the reply, queued before the send returned)
                if raw4:
                    try:
                        n = recv_into(buffer)
                    except BlockingIOError:
                        n = -1
                    if n >= 0:
                        received = perf()
                        if buffer[0] == IPV4_PLAIN_START and buffer[IPV4_PLAIN_LENGTH:n] == expected:
                            ttl, src = ttl_source(buffer)
                            record = reply(probes[-1], received, ttl, n - IPV4_PLAIN_LENGTH,
                                           address if src == target else socket.inet_ntoa(src))
                        else:
                            event = read_ipv4_datagram(buffer, received, n)
                            record = None if event is None else receive(event)
                else:
                    event = read()
                    n = -1 if event is None else 0
                    record = None if event is None else receive(event)
                if n >= 0:
                    if record is not None:
                        if flood and record.seq == len(probes):
                            next_send = 0          # flood: the next probe as soon as this one is back
                        yield record
                    continue
                wake = next_send if sending else linger_until if linger_until is not None else stop_at
                if stop_at is not None and wake is not None and stop_at < wake:
                    wake = stop_at
                now = perf()
                if wake is not None and now >= wake and not sending:
                    lingered = True
                    break                          # the wait for stragglers is over
                select(max(wake - now, 0) / 1e9 if wake is not None else None)
        finally:
            # iputils' "time" ends at the last thing that happened (a send or an answer), not at the end
            # of a wait for answers that never came (-c 3 -W 1, no reply: 2 s, not 3)
            self._end_ns = self._last_event_ns() if lingered else perf()
            selector.close()

    def _last_event_ns(self) -> int:
        return max([p.sent_ns for p in self.log.probes]
                   + [r.received_ns for r in self.log.records if r.received_ns is not None])

    def _linger_until(self) -> int:
        """iputils' schedule_exit: after the last probe, wait 2 x the slowest RTT (at least the
        interval) if anything came back, else ``timeout``."""
        rtts = [p.rtt_ns for p in self.log.probes if p.rtt_ns is not None]
        wait = max(2 * max(rtts), int(self.interval * 1e9)) if rtts else int(self.timeout * 1e9)
        return self.log.probes[-1].sent_ns + wait

    # -- results --
    @property
    def records(self) -> list[Probe]:
        return self.log.records

    @property
    def transmitted(self) -> int:
        """Probes sent so far."""
        return len(self.log.probes)

    @property
    def elapsed_ns(self) -> int:
        return (self._end_ns or time.perf_counter_ns()) - self._start_ns if self._start_ns else 0

    def summary(self) -> PingSummary:
        return summarize(self.log.records, self.elapsed_ns, flood=self.interval == 0)

    def result(self) -> PingResult:
        return PingResult(self.host, self.address, self.version, self.mechanism, self.identifier, self.size,
                          tuple(self.log.records), self.summary(), self.template.timestamped)


def ping(host: str, count: int = 4, **options: Any) -> PingResult:
    """Ping ``host`` ``count`` times and return the result (options: see :class:`Ping`)."""
    with Ping(host, count=count, **options) as session:
        for _ in session.run():
            pass
        return session.result()


async def ping_async(host: str, count: int = 4, **options: Any) -> PingResult:
    """:func:`ping` to ``await`` (in Jupyter, or to ping several hosts at once with ``asyncio.gather``):
    the same synchronous loop, on a worker thread, so the event loop stays free."""
    return await asyncio.to_thread(ping, host, count, **options)


def replay(records: Iterable[Any], host: str | None = None, timeout: float = 10.0) -> PingResult:
    """A ping run rebuilt from a capture of one (``netstudy.pcap.read(path)``): the echo requests to
    ``host`` (default: where the first one goes) are the probes, sent at the capture's timestamps,
    and every reply and ICMP error goes through the same :class:`ProbeLog` as a live run.
    ``mechanism`` says ``"capture"``; times are the capture's, nanoseconds since the epoch."""
    log: ProbeLog | None = None
    version, size, first, last = 4, 0, 0, 0
    pending: list[tuple[bytes, Any, Any, int, int]] = []
    for record in records:
        packet = decode(record.data, record.linktype)
        ip: Any = packet.network               # header fields come from the field tables: typed as Any
        layer: Any = packet.transport
        if ip is None or ip.NAME not in ("IPv4", "IPv6") or not isinstance(layer, (ICMP, ICMPv6)):
            continue
        ttl = ip.ttl if ip.NAME == "IPv4" else ip.hop_limit
        echo: Any = layer if isinstance(layer, (ICMPEcho, ICMPv6Echo)) else None
        if echo is not None and echo.type in (8, 128):
            if log is None and (host is None or ip.dst == canonical(host)):
                log = ProbeLog(echo.identifier, ip.dst, int(timeout * 1e9))
                version, size, first = (4 if ip.NAME == "IPv4" else 6), len(echo.payload), record.timestamp_ns
            if log is not None and echo.identifier == log.identifier and ip.dst == log.address:
                while len(log.probes) < echo.sequence:         # a request the capture missed still counts
                    log.sent(record.timestamp_ns)
                last = record.timestamp_ns
            continue
        pending.append((record.data, ip, layer, ttl, record.timestamp_ns))
    if log is None:
        raise InputError(f"no echo requests{f' to {host}' if host else ''} in this capture")
    for data, ip, layer, ttl, at in pending:
        event = read_message(data, layer.offset, version, ip.src, ttl, at, verify_checksum=version == 4,
                             end=ip.layout()[2])
        if event is not None and log.receive(event) is not None:
            last = max(last, at)
    summary = summarize(log.records, last - first)
    return PingResult(host or log.address, log.address, version, "capture", log.identifier, size,
                      tuple(log.records), summary, size >= TIMESTAMP_BYTES)


# -- traceroute ------------------------------------------------------------------------------------------
class Traceroute:
    """One trace to ``host``: ``method`` ``"icmp"`` (echo probes, default) or ``"udp"`` (ports from
    ``port``, one per probe); ``queries`` probes per hop; TTLs ``first_ttl``..``max_hops``; at most
    ``parallel`` probes in flight; an unanswered probe is given up after ``wait`` seconds;
    ``packet_size`` counts the IP header like traceroute (default 60 for IPv4, 80 for IPv6). A value
    that cannot be used raises :class:`InputError`."""

    def __init__(self, host: str, *, method: str = "icmp", max_hops: int = 30, first_ttl: int = 1,
                 queries: int = 3, wait: float = 5.0, parallel: int = 16, port: int = BASE_PORT,
                 packet_size: int | None = None, source: str | None = None, version: int | None = None,
                 mechanism: str = "auto") -> None:
        if method not in ("icmp", "udp"):
            raise InputError(f"method must be icmp or udp, not {method!r}")
        check_number("max_hops", max_hops, 1, 255, whole=True)
        check_number("first_ttl", first_ttl, 1, 255, whole=True)
        if first_ttl > max_hops:
            raise InputError(f"first_ttl ({first_ttl}) is beyond max_hops ({max_hops})")
        check_number("queries", queries, 1, MAX_QUERIES, whole=True)
        check_number("parallel", parallel, 1, 255 * MAX_QUERIES, whole=True)
        check_number("wait", wait, 0, MAX_SECONDS, above=True)
        check_number("port", port, 1, 65535, whole=True)
        if packet_size is not None:
            check_number("packet_size", packet_size, 0, MAX_PACKET, whole=True)
        self.host, self.method, self.max_hops, self.first_ttl = host, method, max_hops, first_ttl
        self.queries, self.wait, self.parallel = queries, wait, parallel
        self.version, self.address = resolve(host, version)
        overhead = IP_HEADER[self.version] + 8
        self.packet_size = overhead + 32 if packet_size is None else packet_size
        if not overhead <= self.packet_size <= MAX_PACKET:
            raise InputError(f"packet size {self.packet_size} is out of range: {overhead} <= size <= {MAX_PACKET}")
        payload = self.packet_size - overhead
        total = (max_hops - first_ttl + 1) * queries
        if method == "udp" and not 1 <= port <= 65535 - total:
            raise InputError(f"ports {port}..{port + total - 1} do not fit below 65536")
        self.probes = [TraceProbe(ttl, q, 0) for ttl in range(first_ttl, max_hops + 1) for q in range(queries)]
        self.socket: IcmpSocket | UdpProbeSocket
        self.template: EchoTemplate | None = None
        self._payload = b""
        identifier = None
        if method == "icmp":
            try:
                self.socket = IcmpSocket(self.version, mechanism, source)
            except PrivilegeError as exc:
                raise PrivilegeError(f"{exc}; or trace with UDP probes (method='udp', netstudy traceroute -U), "
                                     f"which need no privilege") from None
            identifier = self.socket.identifier
            self.template = EchoTemplate(identifier, payload, self.version)
            for i, probe in enumerate(self.probes):
                probe.key = i + 1                 # the echo sequence number
        else:
            self.socket = UdpProbeSocket(self.version, "recverr" if mechanism == "datagram" else mechanism, source)
            self._payload = bytes(0x40 + i % 64 for i in range(payload))
            for i, probe in enumerate(self.probes):
                probe.key = port + i              # the UDP destination port
        self.mechanism = self.socket.mechanism
        self.table = ProbeTable(self.probes, method, self.version, self.address, identifier, int(wait * 1e9))
        self._ttl_set: int | None = None

    def close(self) -> None:
        self.socket.close()

    def __enter__(self) -> Traceroute:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running --
    def run(self) -> Iterator[Hop]:
        """Probe, and yield each hop once all its probes are answered or given up, in TTL order,
        up to the hop where the destination answered (or an unreachable ended the trace)."""
        perf, table = time.perf_counter_ns, self.table
        wait_ns = int(self.wait * 1e9)
        selector = selectors.DefaultSelector()
        selector.register(self.socket, selectors.EVENT_READ)
        probes, queries = self.probes, self.queries
        sent = done_hops = 0
        try:
            while True:
                table.expire(perf())
                while (sent < len(probes) and len(table.in_flight()) < self.parallel
                       and probes[sent].ttl <= table.last_ttl):
                    self._send(probes[sent])
                    sent += 1
                    self._receive()              # read answers between sends: their RTTs stay true
                now = perf()
                table.expire(now)
                while done_hops * queries < len(probes):   # hops whose probes are all answered or given up
                    hop = probes[done_hops * queries:(done_hops + 1) * queries]
                    if hop[0].ttl > table.last_ttl or not all(p.state in SETTLED for p in hop):
                        break
                    done_hops += 1
                    yield Hop(hop[0].ttl, tuple(hop))
                if done_hops * queries >= len(probes) or probes[done_hops * queries].ttl > table.last_ttl:
                    return
                oldest = min((p.sent_ns for p in table.in_flight() if p.sent_ns is not None), default=now)
                if selector.select(max(oldest + wait_ns - now, 0) / 1e9):
                    self._receive()
        finally:
            selector.close()

    def _receive(self) -> None:
        """File every answer waiting."""
        while (event := self.socket.read()) is not None:
            self.table.receive(event)

    def _send(self, probe: TraceProbe) -> None:
        if probe.ttl != self._ttl_set:
            self.socket.set_ttl(probe.ttl)
            self._ttl_set = probe.ttl
        if isinstance(self.socket, IcmpSocket) and self.template is not None:
            message = self.template.request(probe.key, time.time_ns())
            self.table.sent(probe, time.perf_counter_ns())
            self.socket.send(message, self.address)
        elif isinstance(self.socket, UdpProbeSocket):
            self.table.sent(probe, time.perf_counter_ns())
            self.socket.send(self._payload, self.address, probe.key)

    def result(self) -> TracerouteResult:
        """The hops probed so far, up to the first that ended the trace."""
        return TracerouteResult(self.host, self.address, self.version, self.method, self.mechanism,
                                self.max_hops, self.packet_size, self.table.hops())


def traceroute(host: str, **options: Any) -> TracerouteResult:
    """Trace the path to ``host`` and return the result (options: see :class:`Traceroute`)."""
    with Traceroute(host, **options) as tracer:
        for _ in tracer.run():
            pass
        return tracer.result()


async def traceroute_async(host: str, **options: Any) -> TracerouteResult:
    """:func:`traceroute` to ``await``: the same synchronous loop on a worker thread."""
    return await asyncio.to_thread(traceroute, host, **options)


def replay_trace(records: Iterable[Any], host: str | None = None, max_hops: int = 30) -> TracerouteResult:
    """A trace rebuilt from a capture of one (``netstudy.pcap.read(path)``): the echo requests (or
    UDP datagrams to ports from 33434) to ``host`` are the probes, their TTL read from their IP header,
    their send time the capture's timestamp; every ICMP answer goes through the same
    :class:`ProbeTable` as a live trace. ``mechanism`` says ``"capture"``. ``max_hops`` is the traced
    run's setting, which a capture cannot show (traceroute's default, 30)."""
    found: list[tuple[int, int, int]] = []            # (ttl, key, sent_ns)
    answers: list[tuple[bytes, Any, Any, int, int]] = []
    method, version, address, identifier, size = "", 4, host, None, 0
    for record in records:
        packet = decode(record.data, record.linktype)
        ip: Any = packet.network               # header fields come from the field tables: typed as Any
        layer: Any = packet.transport
        if ip is None or ip.NAME not in ("IPv4", "IPv6") or layer is None:
            continue
        ttl = ip.ttl if ip.NAME == "IPv4" else ip.hop_limit
        echo: Any = layer if isinstance(layer, (ICMPEcho, ICMPv6Echo)) else None
        udp: Any = layer if isinstance(layer, UDP) else None
        is_request = echo is not None and echo.type in (8, 128)
        is_udp_probe = udp is not None and udp.dport >= BASE_PORT
        if (is_request or is_udp_probe) and (address is None or ip.dst == address):
            method, address = ("icmp" if is_request else "udp"), ip.dst
            version, size = (4 if ip.NAME == "IPv4" else 6), size or len(ip.payload) + ip.header_length
            if is_request:
                identifier = echo.identifier
            found.append((ttl, echo.sequence if is_request else udp.dport, record.timestamp_ns))
        elif layer.NAME.startswith("ICMP"):
            answers.append((record.data, ip, layer, ttl, record.timestamp_ns))
    if not found or address is None:
        raise InputError("no traceroute probes (ICMP echo requests or UDP to high ports) in this capture")
    found.sort(key=lambda f: (f[0], f[2]))
    probes: list[TraceProbe] = []
    query: dict[int, int] = {}
    for ttl, key, _ in found:
        query[ttl] = query.get(ttl, -1) + 1
        probes.append(TraceProbe(ttl, query[ttl], key))
    table = ProbeTable(probes, method, version, address, identifier)
    for probe, (_, _, sent_ns) in zip(probes, found, strict=True):
        table.sent(probe, sent_ns)
    for data, ip, layer, ttl, at in answers:
        event = read_message(data, layer.offset, version, ip.src, ttl, at, end=ip.layout()[2])
        if event is not None:
            table.receive(event)
    return TracerouteResult(host or address, address, version, method, "capture", max_hops, size, table.hops())
