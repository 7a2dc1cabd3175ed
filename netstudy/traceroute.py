"""Traceroute: the path to a host, one TTL at a time (RFC 1393's idea, RFC 792's time exceeded).

A probe sent with TTL n is dropped by the n-th router, which answers "time exceeded" (RFC 792 p.6;
ICMPv6 RFC 4443 §3.3) from its own address; the destination answers the probe itself: an echo reply
to an ICMP echo probe (the default, like ``traceroute -I``), or "port unreachable" to a UDP datagram
for a high port (33434 and up, traceroute's classic probe). Every error quotes the probe it is
about, so probes for all TTLs can be in flight at once (up to ``parallel``, like traceroute's -N 16)
and each answer still finds its probe: by the echo sequence number, or by the UDP destination port.

Mechanisms: a raw ICMP socket when privileged; otherwise ICMP probes go through the kernel's
unprivileged ICMP socket (if ``net.ipv4.ping_group_range`` allows) and UDP probes through a plain UDP
socket, both reading the ICMP errors from the kernel's error queue (``IP_RECVERR``, ip(7)).
"""
from __future__ import annotations

import asyncio
import itertools
import selectors
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any

from netstudy.errors import PrivilegeError
from netstudy.icmp_engine import EchoReply, EchoTemplate, IcmpSocket, ProbeError, UdpProbeSocket, resolve
from netstudy.icmp_engine.echo import read_message
from netstudy.wire import UDP, ICMPEcho, decode
from netstudy.wire.icmpv6 import ICMPv6Echo

BASE_PORT = 33434              # traceroute's first UDP port (RFC 1393 §2 lists 33434 as its base too)
IP_HEADER = {4: 20, 6: 40}
# traceroute's annotations for ICMP unreachable codes (traceroute(8), "!H", "!N", ...); port
# unreachable means the destination answered: no mark.
MARKS4 = {0: "!N", 1: "!H", 2: "!P", 3: "", 4: "!F", 5: "!S", 6: "!N", 7: "!H", 8: "!N", 9: "!X", 10: "!X",
          11: "!N", 12: "!H", 13: "!X", 14: "!V", 15: "!C"}
MARKS6 = {0: "!N", 1: "!X", 2: "!S", 3: "!H", 4: "", 5: "!X", 6: "!X"}


@dataclass(slots=True)
class TraceProbe:
    """One probe: its TTL, which of the hop's probes it is, and who answered after how long."""

    ttl: int
    query: int                      # 0, 1, 2 for the three probes of a hop
    key: int                        # echo sequence number, or UDP destination port
    sent_ns: int | None = None
    received_ns: int | None = None
    rtt_ns: int | None = None
    source: str | None = None       # who answered: a router (time exceeded) or the destination
    icmp_type: int | None = None
    icmp_code: int | None = None
    mark: str = ""                  # traceroute's annotation: !H, !N, !P, !X, ...
    final: bool = False             # the answer ends the trace (destination reached, or unreachable)

    @property
    def rtt_ms(self) -> float | None:
        return None if self.rtt_ns is None else self.rtt_ns / 1e6


@dataclass(frozen=True)
class Hop:
    """The probes of one TTL."""

    ttl: int
    probes: tuple[TraceProbe, ...]

    @property
    def addresses(self) -> list[str]:
        """Who answered, each address once, in the order they answered."""
        seen: list[str] = []
        for probe in self.probes:
            if probe.source is not None and probe.source not in seen:
                seen.append(probe.source)
        return seen

    def line(self) -> str:
        """As ``traceroute -n`` prints it: `` 2  10.0.2.1  0.069 ms  0.018 ms  0.014 ms``."""
        text, previous = f"{self.ttl:2d} ", None
        for probe in self.probes:
            if probe.source is None:
                text += " *"
                continue
            if probe.source != previous:
                text += f" {probe.source}"
                previous = probe.source
            text += f"  {probe.rtt_ns / 1e6:.3f} ms"
            if probe.mark:
                text += f" {probe.mark}"
        return text


@dataclass(frozen=True)
class TracerouteResult:
    """A finished trace: the hops up to the destination (or ``max_hops``), and how it was done."""

    host: str
    address: str
    version: int
    method: str                     # "icmp" or "udp"
    mechanism: str                  # "raw", "datagram" (ICMP socket) or "recverr" (UDP error queue)
    max_hops: int
    packet_size: int
    hops: tuple[Hop, ...]

    @property
    def reached(self) -> bool:
        return bool(self.hops) and any(p.source == self.address for p in self.hops[-1].probes)

    def addresses(self) -> list[str | None]:
        """The first address that answered at each hop (None: no answer), in TTL order."""
        return [hop.addresses[0] if hop.addresses else None for hop in self.hops]

    def to_frame(self) -> Any:
        """One row per probe (ttl, query, source, rtt_ms, ...); pandas is imported only here."""
        import pandas as pd
        rows = [{**{f.name: getattr(p, f.name) for f in fields(TraceProbe)}, "rtt_ms": p.rtt_ms}
                for hop in self.hops for p in hop.probes]
        frame = pd.DataFrame(rows, columns=[f.name for f in fields(TraceProbe)] + ["rtt_ms"])
        for name in ("sent_ns", "received_ns", "rtt_ns", "icmp_type", "icmp_code"):
            frame[name] = frame[name].astype("Int64")
        return frame

    def lines(self) -> list[str]:
        return [header_line(self.host, self.address, self.max_hops, self.packet_size)] + [h.line() for h in self.hops]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def header_line(host: str, address: str, max_hops: int, packet_size: int) -> str:
    return f"traceroute to {host} ({address}), {max_hops} hops max, {packet_size} byte packets"


class ProbeTable:
    """The probes of one trace and the answers filed under them: no socket, no clock (sans-I/O).

    ``match(event)`` finds the probe an :class:`EchoReply` or :class:`ProbeError` answers (by echo
    sequence number, or by the quoted UDP destination port), fills it in, and returns it."""

    def __init__(self, probes: list[TraceProbe], method: str, version: int, address: str,
                 identifier: int | None = None) -> None:
        self.probes, self.method, self.version, self.address = probes, method, version, address
        self.identifier = identifier
        self._by_key = {probe.key: probe for probe in probes}

    def match(self, event: EchoReply | ProbeError) -> TraceProbe | None:
        """The probe an answer belongs to (filled in), or None if it is not one of ours."""
        if self.method == "icmp":
            if event.identifier != self.identifier:
                return None
            probe = self._by_key.get(event.sequence)       # type: ignore[arg-type]
        else:
            probe = self._by_key.get(event.dport) if isinstance(event, ProbeError) else None  # type: ignore[arg-type]
        if probe is None or probe.received_ns is not None or probe.sent_ns is None:
            return None
        if isinstance(event, ProbeError) and event.destination != self.address:
            return None
        probe.received_ns, probe.source = event.received_ns, event.source
        probe.rtt_ns = event.received_ns - probe.sent_ns
        if isinstance(event, EchoReply):
            probe.icmp_type, probe.icmp_code, probe.final = (0 if self.version == 4 else 129), 0, True
        else:
            probe.icmp_type, probe.icmp_code = event.icmp_type, event.icmp_code
            if event.icmp_type == (3 if self.version == 4 else 1):          # unreachable
                probe.mark = (MARKS4 if self.version == 4 else MARKS6).get(event.icmp_code, f"!<{event.icmp_code}>")
                probe.final = True
            elif event.icmp_type is None:                                  # a local error
                probe.mark, probe.final = "!" + (event.text.split(": ", 1)[-1]), True
        return probe

    def hops(self) -> tuple[Hop, ...]:
        """The probes grouped by TTL, in order, up to the first hop with a final answer."""
        hops = []
        for ttl, members in itertools.groupby(self.probes, key=lambda p: p.ttl):
            group = tuple(members)
            if group[0].sent_ns is None:
                break
            hops.append(Hop(ttl, group))
            if any(p.final for p in group):
                break
        return tuple(hops)


class Traceroute:
    """One trace to ``host``: ``method`` ``"icmp"`` (echo probes, default) or ``"udp"`` (ports from
    ``port``, one per probe); ``queries`` probes per hop; TTLs ``first_ttl``..``max_hops``; at most
    ``parallel`` probes in flight; an unanswered probe is given up after ``wait`` seconds;
    ``packet_size`` counts the IP header like traceroute (default 60 for IPv4, 80 for IPv6)."""

    def __init__(self, host: str, *, method: str = "icmp", max_hops: int = 30, first_ttl: int = 1,
                 queries: int = 3, wait: float = 5.0, parallel: int = 16, port: int = BASE_PORT,
                 packet_size: int | None = None, source: str | None = None, version: int | None = None,
                 mechanism: str = "auto") -> None:
        if method not in ("icmp", "udp"):
            raise ValueError(f"method must be icmp or udp, not {method!r}")
        if not 1 <= first_ttl <= max_hops <= 255:
            raise ValueError(f"need 1 <= first_ttl ({first_ttl}) <= max_hops ({max_hops}) <= 255")
        if not 1 <= queries <= 10 or parallel < 1 or wait <= 0:
            raise ValueError(f"need 1 <= queries ({queries}) <= 10, parallel ({parallel}) >= 1, wait ({wait}) > 0")
        self.host, self.method, self.max_hops, self.first_ttl = host, method, max_hops, first_ttl
        self.queries, self.wait, self.parallel = queries, wait, parallel
        self.version, self.address = resolve(host, version)
        overhead = IP_HEADER[self.version] + 8
        self.packet_size = overhead + 32 if packet_size is None else packet_size
        if not overhead <= self.packet_size <= 65000:
            raise ValueError(f"packet size {self.packet_size} is out of range: {overhead} <= size <= 65000")
        payload = self.packet_size - overhead
        total = (max_hops - first_ttl + 1) * queries
        if method == "udp" and not 1 <= port <= 65535 - total:
            raise ValueError(f"ports {port}..{port + total - 1} do not fit below 65536")
        self.probes = [TraceProbe(ttl, q, 0) for ttl in range(first_ttl, max_hops + 1) for q in range(queries)]
        self.socket: IcmpSocket | UdpProbeSocket
        if method == "icmp":
            try:
                self.socket = IcmpSocket(self.version, mechanism, source)
            except PrivilegeError as exc:
                raise PrivilegeError(f"{exc}; or trace with UDP probes (method='udp', netstudy traceroute -U), "
                                     f"which need no privilege") from None
            self.template: EchoTemplate | None = EchoTemplate(self.socket.identifier, payload, self.version)
            for i, probe in enumerate(self.probes):
                probe.key = i + 1                 # the echo sequence number
        else:
            self.socket = UdpProbeSocket(self.version, "recverr" if mechanism == "datagram" else mechanism, source)
            self.template, self._payload = None, bytes(0x40 + i % 64 for i in range(payload))
            for i, probe in enumerate(self.probes):
                probe.key = port + i              # the UDP destination port
        self.mechanism = self.socket.mechanism
        identifier = self.socket.identifier if method == "icmp" else None  # type: ignore[union-attr]
        self.table = ProbeTable(self.probes, method, self.version, self.address, identifier)
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
        perf = time.perf_counter_ns
        wait_ns = int(self.wait * 1e9)
        selector = selectors.DefaultSelector()
        selector.register(self.socket, selectors.EVENT_READ)
        probes, queries = self.probes, self.queries
        last_ttl = self.max_hops              # lowered to the TTL of the first final answer
        sent = done_hops = 0
        in_flight: list[TraceProbe] = []
        try:
            while True:
                now = perf()
                in_flight = [p for p in in_flight if p.received_ns is None and now - p.sent_ns < wait_ns]
                while sent < len(probes) and len(in_flight) < self.parallel and probes[sent].ttl <= last_ttl:
                    self._send(probes[sent])
                    in_flight.append(probes[sent])
                    sent += 1
                    last_ttl = self._receive(last_ttl)   # read answers between sends: their RTTs stay true
                now = perf()
                while done_hops * queries < len(probes):   # hops whose probes are all answered or expired
                    hop = probes[done_hops * queries:(done_hops + 1) * queries]
                    if hop[0].ttl > last_ttl or not all(self._settled(p, now, wait_ns) for p in hop):
                        break
                    done_hops += 1
                    yield Hop(hop[0].ttl, tuple(hop))
                if done_hops * queries >= len(probes) or probes[done_hops * queries].ttl > last_ttl:
                    return
                oldest = min((p.sent_ns for p in in_flight), default=now)
                if selector.select(max(oldest + wait_ns - now, 0) / 1e9):
                    last_ttl = self._receive(last_ttl)
        finally:
            selector.close()

    def _receive(self, last_ttl: int) -> int:
        """Read every answer waiting; returns the last TTL worth probing (lowered when the
        destination answered, or an unreachable ended the trace)."""
        while (event := self.socket.read()) is not None:
            probe = self.table.match(event)
            if probe is not None and probe.final:
                last_ttl = min(last_ttl, probe.ttl)
        return last_ttl

    @staticmethod
    def _settled(probe: TraceProbe, now: int, wait_ns: int) -> bool:
        return probe.sent_ns is not None and (probe.received_ns is not None or now - probe.sent_ns >= wait_ns)

    def _send(self, probe: TraceProbe) -> None:
        if probe.ttl != self._ttl_set:
            self.socket.set_ttl(probe.ttl)
            self._ttl_set = probe.ttl
        if self.template is not None:
            message = self.template.request(probe.key, time.time_ns())
            probe.sent_ns = time.perf_counter_ns()
            self.socket.send(message, self.address)           # type: ignore[call-arg]
        else:
            probe.sent_ns = time.perf_counter_ns()
            self.socket.send(self._payload, self.address, probe.key)  # type: ignore[call-arg]

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


def replay(records: Iterable[Any], host: str | None = None, max_hops: int = 30) -> TracerouteResult:
    """A trace rebuilt from a capture of one (``netstudy.pcap.read(path)``): the echo requests (or
    UDP datagrams to ports from 33434) to ``host`` are the probes, their TTL read from their IP header,
    their send time the capture's timestamp; every ICMP answer goes through the same
    :class:`ProbeTable` as a live trace. ``mechanism`` says ``"capture"``. ``max_hops`` is the traced
    run's setting, which a capture cannot show (traceroute's default, 30)."""
    found: list[tuple[int, int, int]] = []            # (ttl, key, sent_ns)
    answers, method, version, address, identifier, size = [], "", 4, host, None, 0
    for record in records:
        packet = decode(record.data, record.linktype)
        ip, layer = packet.network, packet.transport
        if ip is None or ip.NAME not in ("IPv4", "IPv6") or layer is None:
            continue
        ttl = ip.ttl if ip.NAME == "IPv4" else ip.hop_limit
        is_request = isinstance(layer, (ICMPEcho, ICMPv6Echo)) and layer.type in (8, 128)
        is_udp_probe = isinstance(layer, UDP) and layer.dport >= BASE_PORT
        if (is_request or is_udp_probe) and (address is None or ip.dst == address):
            method, address = ("icmp" if is_request else "udp"), ip.dst
            version, size = (4 if ip.NAME == "IPv4" else 6), size or len(ip.payload) + ip.header_length
            if is_request:
                identifier = layer.identifier
            found.append((ttl, layer.sequence if is_request else layer.dport, record.timestamp_ns))
        elif layer.NAME.startswith("ICMP"):
            answers.append((packet, ip, layer, ttl, record.timestamp_ns))
    if not found or address is None:
        raise ValueError("no traceroute probes (ICMP echo requests or UDP to high ports) in this capture")
    found.sort(key=lambda f: (f[0], f[2]))
    probes, query = [], {}
    for ttl, key, sent_ns in found:
        query[ttl] = query.get(ttl, -1) + 1
        probes.append(TraceProbe(ttl, query[ttl], key, sent_ns))
    table = ProbeTable(probes, method, version, address, identifier)
    for packet, ip, layer, ttl, at in answers:
        event = read_message(packet.data, layer.offset, version, ip.src, ttl, at, end=ip.layout()[2])
        if event is not None:
            table.match(event)
    return TracerouteResult(host or address, address, version, method, "capture", max_hops, size, table.hops())
