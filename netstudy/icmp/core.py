"""Ping's and traceroute's bookkeeping, sans-I/O: which probes went out, what came back for each, and
what it all adds up to. No socket, no clock, no printing: times come in as ``now_ns`` / ``sent_ns``
integers (``time.perf_counter_ns()`` in a live run, a capture's timestamps in a replay, made-up numbers
in a test), and events come in already decoded by ``netstudy.wire.echo`` (:class:`EchoReply`,
:class:`ProbeError`).

Ping (RFC 792 p.14; ICMPv6, RFC 4443 §4.1): a reply is matched to its probe by identifier and
sequence, so replies to another pinger are ignored; a second reply to one probe is a duplicate, a reply
after ``timeout`` is late, a reply to an older probe than one already answered is out of order; an ICMP
error (unreachable, time exceeded) is matched through the request it quotes and recorded on that probe.
:class:`ProbeLog` keeps the :class:`Probe` records; :func:`summarize` computes iputils' statistics from
them alone (:class:`PingSummary`); :class:`PingResult` holds a run.

Traceroute: a probe sent with TTL n is answered by the n-th router ("time exceeded", RFC 792 p.6) or by
the destination; every error quotes the probe it is about, so :class:`ProbeTable` files each answer
under its :class:`TraceProbe` by echo sequence number or UDP destination port, whatever the order.
:class:`Hop` groups a TTL's probes; :class:`TracerouteResult` holds a trace.

A traceroute probe's lifecycle is a table (``netstudy.states``): :data:`TRACE_TABLE`. A ping record's is
written in its fields, for speed: see :class:`Probe`.
"""
from __future__ import annotations

import enum
import ipaddress
import itertools
import math
import operator
from dataclasses import dataclass, fields
from typing import Any

from netstudy.states import StateTable
from netstudy.wire.echo import EchoReply, ProbeError

# traceroute's annotations for ICMP unreachable codes (traceroute(8), "!H", "!N", ...); port
# unreachable means the destination answered: no mark.
MARKS4 = {0: "!N", 1: "!H", 2: "!P", 3: "", 4: "!F", 5: "!S", 6: "!N", 7: "!H", 8: "!N", 9: "!X", 10: "!X",
          11: "!N", 12: "!H", 13: "!X", 14: "!V", 15: "!C"}
MARKS6 = {0: "!N", 1: "!X", 2: "!S", 3: "!H", 4: "", 5: "!X", 6: "!X"}


# -- ping ------------------------------------------------------------------------------------------------
@dataclass(slots=True)
class Probe:
    """One echo request and what came of it; a duplicate reply (or a second error) is a record of its own.

    Its lifecycle stays in its fields, not in a ``StateTable``: in flight while ``rtt_ns`` and ``error``
    are None; replied once ``rtt_ns`` is set; errored once ``error`` is set (an ICMP error, or the send
    failed); an error then a reply is possible, and counts as a reply (iputils too). A ``state`` field
    moved through ``StateTable.next`` was tried: one more Python call per reply on the flood's hot path.
    The bookkeeping of 10,000 probes (``ProbeLog.sent`` + ``reply``, then :func:`summarize`; CPU time,
    best of 30) went from 1.04-1.16 µs per probe to 1.21-1.28 µs, and ``benchmarks/ping.py``, run in turns
    with and without it, from a mean of 0.65x iputils to 0.63x. So the fields stay."""

    seq: int                        # 1, 2, 3, ... (the packet carries it modulo 65536: icmp_seq)
    sent_ns: int                    # time.perf_counter_ns() just before sending
    received_ns: int | None = None
    rtt_ns: int | None = None
    ttl: int | None = None          # of the reply (IPv6: hop limit)
    size: int | None = None         # bytes of the ICMP message received
    source: str | None = None       # who answered: the target, or the router reporting an error
    error: str | None = None        # iputils' words: "Time to live exceeded", "sendmsg: ..."
    icmp_type: int | None = None
    icmp_code: int | None = None
    duplicate: bool = False
    late: bool = False              # the reply came after `timeout`
    out_of_order: bool = False      # a later probe had been answered already
    corrupted: bool = False         # the reply's ICMP checksum did not verify
    quoted: bytes = b""             # an ICMP error's quote of this probe (ProbeError.quoted): decode_ip() it

    @property
    def icmp_seq(self) -> int:
        return self.seq & 0xFFFF

    @property
    def rtt_ms(self) -> float | None:
        return None if self.rtt_ns is None else self.rtt_ns / 1e6

    @property
    def replied(self) -> bool:
        """An echo reply that counts: it arrived, it is not a duplicate, its checksum is right."""
        return self.rtt_ns is not None and not self.duplicate and not self.corrupted


@dataclass(frozen=True, slots=True)
class PingSummary:
    """The statistics iputils prints at the end, from the records alone (see :func:`summarize`)."""

    transmitted: int
    received: int
    duplicates: int
    corrupted: int
    errors: int
    loss_percent: float
    time_ms: float
    min_ms: float | None
    avg_ms: float | None
    max_ms: float | None
    mdev_ms: float | None
    pipe: int                       # most probes in flight at once (printed when more than 1)
    ipg_ms: float | None            # interval 0 only: mean gap between probes
    ewma_ms: float | None           # interval 0 only: RTT smoothed as iputils does (weight 1/8)


_RECEIVED_NS = operator.attrgetter("received_ns")


def summarize(records: list[Probe] | tuple[Probe, ...], elapsed_ns: int, flood: bool = False) -> PingSummary:
    """Transmitted, received, loss and min/avg/max/mdev as iputils computes them: every RTT counts,
    duplicates' too (not corrupted replies'); ``mdev = sqrt(mean(rtt²) - mean(rtt)²)``, the
    population standard deviation. ``pipe``: for each answer, probes sent by then minus its sequence,
    plus one. ``ewma``: ``e += (rtt - e) / 8`` over replies in arrival order, starting at the first."""
    probes, duplicates, corrupted, errors = [], 0, 0, 0
    for r in records:                         # one pass for the counts (a flood makes many records)
        if not r.duplicate:
            probes.append(r)
        elif r.error is None:
            duplicates += 1
        if r.corrupted:
            corrupted += 1
        if r.error is not None:
            errors += 1
    transmitted = len(probes)
    received = sum(1 for r in probes if r.rtt_ns is not None and not r.corrupted)     # Probe.replied
    answered = sorted((r for r in records if r.received_ns is not None), key=_RECEIVED_NS)
    rtts = [r.rtt_ns for r in answered if r.rtt_ns is not None and not r.corrupted]
    sends = sorted(r.sent_ns for r in probes)
    pipe, in_flight = 0, 0
    for record in answered:
        arrived = record.received_ns
        if arrived is None:                   # (never: `answered` holds received records only)
            continue
        while in_flight < len(sends) and sends[in_flight] <= arrived:
            in_flight += 1
        if in_flight - record.seq + 1 > pipe:
            pipe = in_flight - record.seq + 1
    low = mean = high = mdev = ipg = ewma = None
    if rtts:
        n = len(rtts)
        mean_ns = sum(rtts) / n
        mdev_ns = math.sqrt(max(sum(x * x for x in rtts) / n - mean_ns * mean_ns, 0.0))
        low, mean, high, mdev = min(rtts) / 1e6, mean_ns / 1e6, max(rtts) / 1e6, mdev_ns / 1e6
        if flood and transmitted > 1:
            smoothed = float(rtts[0])
            for x in rtts[1:]:
                smoothed += (x - smoothed) / 8
            ipg, ewma = elapsed_ns / (transmitted - 1) / 1e6, smoothed / 1e6
    loss = (transmitted - received) * 100.0 / transmitted if transmitted else 0.0
    return PingSummary(transmitted, received, duplicates, corrupted, errors, loss, elapsed_ns / 1e6, low, mean,
                       high, mdev, pipe, ipg, ewma)


@dataclass(frozen=True)
class PingResult:
    """What a ping run found: records, summary, and how it was done (``mechanism``: raw or datagram).
    ``netstudy.icmp.output.ping_lines(result)`` prints it as iputils does."""

    host: str
    address: str
    version: int
    mechanism: str
    identifier: int
    size: int
    records: tuple[Probe, ...]
    summary: PingSummary
    timed: bool = True              # payloads of 16 bytes or more carry a timestamp: iputils prints times

    @property
    def rtts_ms(self) -> list[float]:
        return [r.rtt_ns / 1e6 for r in self.records if r.rtt_ns is not None and not r.corrupted]

    def to_frame(self) -> Any:
        """One row per record (sorted by seq, duplicates after their probe), with ``sent_ms`` from the
        first send and ``rtt_ms``; pandas is imported here, only when asked."""
        import pandas as pd
        start = min((r.sent_ns for r in self.records), default=0)
        rows = []
        for r in sorted(self.records, key=lambda r: (r.seq, r.duplicate, r.received_ns or 0)):
            row = {f.name: getattr(r, f.name) for f in fields(Probe)}
            row["icmp_seq"] = r.icmp_seq
            row["sent_ms"] = (r.sent_ns - start) / 1e6
            row["rtt_ms"] = r.rtt_ms
            rows.append(row)
        columns = ["seq", "icmp_seq", "sent_ms", "rtt_ms", "ttl", "size", "source", "error", "icmp_type",
                   "icmp_code", "duplicate", "late", "out_of_order", "corrupted", "sent_ns", "received_ns", "rtt_ns"]
        frame = pd.DataFrame(rows, columns=columns)
        for name in ("received_ns", "rtt_ns", "ttl", "size", "icmp_type", "icmp_code"):
            frame[name] = frame[name].astype("Int64")
        return frame


def canonical(address: str) -> str:
    """An address as ``ipaddress`` writes it (a scope ``%eth0`` dropped); anything else as it is."""
    try:
        return str(ipaddress.ip_address(address.split("%")[0]))
    except ValueError:
        return address


class ProbeLog:
    """Which probes went out and what came back for each: no socket, no clock (times are given).

    ``sent(now_ns)`` opens the record of the next probe; ``receive(event)`` files an :class:`EchoReply`
    or :class:`ProbeError` under its probe and returns the record it made or filled (None: not ours),
    marking duplicates, late and out-of-order replies on the way; ``reply(probe, ...)`` files an echo
    reply already known to answer ``probe`` (the pinger's hot path)."""

    def __init__(self, identifier: int, address: str, timeout_ns: int) -> None:
        self.identifier, self.address, self.timeout_ns = identifier, address, timeout_ns
        self.records: list[Probe] = []        # every record, in the order it was made
        self.probes: list[Probe] = []         # one per probe sent; index = seq - 1
        self.answered = 0                     # probes with a reply or an error (iputils: received + errors)
        self.highest = 0                      # highest seq answered so far

    def sent(self, now_ns: int) -> Probe:
        probe = Probe(len(self.probes) + 1, now_ns)
        self.probes.append(probe)
        self.records.append(probe)
        return probe

    def send_failed(self, probe: Probe, reason: str) -> None:
        """iputils: a local send error counts as a probe sent, and as an error."""
        probe.error = f"sendmsg: {reason}"
        self.answered += 1

    def probe_for(self, wire_seq: int) -> Probe | None:
        """The latest probe whose sequence number is ``wire_seq`` modulo 2**16, if we sent one."""
        sent = len(self.probes)
        seq = sent - ((sent - wire_seq) & 0xFFFF)
        return self.probes[seq - 1] if seq >= 1 else None

    def _extra(self, probe: Probe) -> Probe:
        record = Probe(probe.seq, probe.sent_ns, duplicate=True)
        self.records.append(record)
        return record

    def reply(self, probe: Probe, received_ns: int, ttl: int | None, size: int, source: str,
              checksum_ok: bool = True) -> Probe:
        """File an echo reply to ``probe``: its own record if it is the first reply, else a duplicate's."""
        if probe.rtt_ns is None:
            record = probe
            if probe.error is None:
                self.answered += 1
            record.out_of_order = probe.seq < self.highest
            if probe.seq > self.highest:
                self.highest = probe.seq
        else:
            record = self._extra(probe)
        record.received_ns = received_ns
        record.rtt_ns = rtt = received_ns - probe.sent_ns
        record.ttl, record.size, record.source = ttl, size, source
        record.corrupted = not checksum_ok
        record.late = rtt > self.timeout_ns
        return record

    def receive(self, event: EchoReply | ProbeError) -> Probe | None:
        """File what arrived under its probe; None when it is not about one of ours (another pinger's
        reply, a probe never sent, an error quoting a request to another host)."""
        if event.identifier != self.identifier or event.sequence is None:
            return None
        probe = self.probe_for(event.sequence)
        if probe is None:
            return None
        if isinstance(event, EchoReply):
            return self.reply(probe, event.received_ns, event.ttl, event.size, event.source, event.checksum_ok)
        if canonical(event.destination) != self.address:
            return None
        if probe.rtt_ns is None and probe.error is None:
            record = probe
            self.answered += 1
        else:
            record = self._extra(probe)
        record.received_ns, record.source, record.ttl = event.received_ns, event.source, event.ttl
        record.error, record.icmp_type, record.icmp_code = event.text, event.icmp_type, event.icmp_code
        record.quoted = event.quoted
        return record


# -- traceroute ------------------------------------------------------------------------------------------
class TraceState(enum.Enum):
    """Where a traceroute probe stands."""

    NOT_SENT = "not sent"
    IN_FLIGHT = "in flight"
    ANSWERED = "answered"           # a router or the destination answered it
    GIVEN_UP = "given up"           # nothing came within the wait: traceroute's "*"


TRACE_TABLE: StateTable[TraceState] = StateTable(TraceState.NOT_SENT, {
    (TraceState.NOT_SENT, "send"): TraceState.IN_FLIGHT,
    (TraceState.IN_FLIGHT, "answer"): TraceState.ANSWERED,
    (TraceState.IN_FLIGHT, "expire"): TraceState.GIVEN_UP,
})
SETTLED = frozenset({TraceState.ANSWERED, TraceState.GIVEN_UP})


@dataclass(slots=True)
class TraceProbe:
    """One probe: its TTL, which of the hop's probes it is, and who answered after how long.
    ``state`` (:class:`TraceState`) moves through :data:`TRACE_TABLE` only, by :class:`ProbeTable`."""

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
    state: TraceState = TraceState.NOT_SENT

    @property
    def rtt_ms(self) -> float | None:
        return None if self.rtt_ns is None else self.rtt_ns / 1e6


@dataclass(frozen=True)
class Hop:
    """The probes of one TTL (``netstudy.icmp.output.hop_line(hop)`` prints it as ``traceroute -n``)."""

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
        """One row per probe (ttl, query, source, rtt_ms, state, ...); pandas is imported only here."""
        import pandas as pd
        rows = [{**{f.name: getattr(p, f.name) for f in fields(TraceProbe)}, "rtt_ms": p.rtt_ms,
                 "state": p.state.value} for hop in self.hops for p in hop.probes]
        frame = pd.DataFrame(rows, columns=[f.name for f in fields(TraceProbe)] + ["rtt_ms"])
        for name in ("sent_ns", "received_ns", "rtt_ns", "icmp_type", "icmp_code"):
            frame[name] = frame[name].astype("Int64")
        return frame


class ProbeTable:
    """The probes of one trace and the answers filed under them: no socket, no clock (sans-I/O).

    ``sent(probe, now_ns)`` records a probe leaving; ``receive(event)`` finds the probe an
    :class:`EchoReply` or :class:`ProbeError` answers (by echo sequence number, or by the quoted UDP
    destination port), fills it in and returns it (None: not ours, or not in flight any more);
    ``expire(now_ns)`` gives up the probes in flight for ``wait_ns`` or longer. ``last_ttl`` is the
    highest TTL still worth probing: lowered to the TTL of the first answer that ends the trace."""

    def __init__(self, probes: list[TraceProbe], method: str, version: int, address: str,
                 identifier: int | None = None, wait_ns: int | None = None) -> None:
        self.probes, self.method, self.version, self.address = probes, method, version, address
        self.identifier, self.wait_ns = identifier, wait_ns
        self.last_ttl = max((probe.ttl for probe in probes), default=0)
        self.late = 0                         # answers to probes already given up (ignored)
        self._by_key = {probe.key: probe for probe in probes}
        self._flying: list[TraceProbe] = []

    def sent(self, probe: TraceProbe, now_ns: int) -> None:
        probe.state = TRACE_TABLE.next(probe.state, "send")
        probe.sent_ns = now_ns
        self._flying.append(probe)

    def receive(self, event: EchoReply | ProbeError) -> TraceProbe | None:
        """The probe an answer belongs to (filled in), or None if it is not one of ours."""
        if self.method == "icmp":
            if event.identifier != self.identifier or event.sequence is None:
                return None
            probe = self._by_key.get(event.sequence)
        else:
            port = event.dport if isinstance(event, ProbeError) else None
            probe = self._by_key.get(port) if port is not None else None
        if probe is None or (isinstance(event, ProbeError) and event.destination != self.address):
            return None
        if probe.state is not TraceState.IN_FLIGHT or probe.sent_ns is None:
            if probe.state is TraceState.GIVEN_UP:
                self.late += 1
            return None                       # answered already, given up, or never sent: not a move
        probe.state = TRACE_TABLE.next(probe.state, "answer")
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
        if probe.final:
            self.last_ttl = min(self.last_ttl, probe.ttl)
        return probe

    def expire(self, now_ns: int) -> list[TraceProbe]:
        """Give up every probe in flight for ``wait_ns`` or longer (none without a ``wait_ns``: a
        replay); returns them."""
        wait_ns, given_up = self.wait_ns, []
        if wait_ns is not None:
            for probe in self.in_flight():
                if probe.sent_ns is not None and now_ns - probe.sent_ns >= wait_ns:
                    probe.state = TRACE_TABLE.next(probe.state, "expire")
                    given_up.append(probe)
        return given_up

    def in_flight(self) -> list[TraceProbe]:
        """The probes sent and neither answered nor given up, oldest first."""
        self._flying = [probe for probe in self._flying if probe.state is TraceState.IN_FLIGHT]
        return self._flying

    def hops(self) -> tuple[Hop, ...]:
        """The probes grouped by TTL, in order, up to the first hop with a final answer."""
        hops = []
        for ttl, members in itertools.groupby(self.probes, key=lambda p: p.ttl):
            group = tuple(members)
            if group[0].state is TraceState.NOT_SENT:
                break
            hops.append(Hop(ttl, group))
            if any(p.final for p in group):
                break
        return tuple(hops)
