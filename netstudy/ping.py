"""Ping: ICMP echo request and reply (RFC 792 p.14; ICMPv6, RFC 4443 §4.1), measured as iputils does.

Each probe is an echo request with our identifier, the next sequence number and the send time in its
payload (built by :class:`netstudy.icmp_engine.EchoTemplate`). A reply is matched to its probe by
identifier and sequence, so replies to another pinger are ignored; a second reply to one probe is a
duplicate, a reply after ``timeout`` is late, a reply to an older probe than one already answered
is out of order; an ICMP error (unreachable, time exceeded) is matched through the request it
quotes and recorded on that probe.

``ping("127.0.0.1", count=5)`` is a plain synchronous call (a ``selectors`` loop, fine inside
Jupyter) returning a :class:`PingResult`: one :class:`Probe` record per probe (and per duplicate),
a :class:`PingSummary` computed as iputils does, ``.to_frame()``, and ``str()`` in iputils' format.
``Ping(...).run()`` yields each record as it arrives (what the CLI prints line by line).
"""
from __future__ import annotations

import asyncio
import ipaddress
import math
import operator
import os
import selectors
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any

from netstudy.icmp_engine import EchoReply, EchoTemplate, IcmpSocket, ProbeError, resolve
from netstudy.icmp_engine.echo import (
    IPV4_PLAIN_LENGTH,
    IPV4_PLAIN_START,
    IPV4_TTL_SOURCE,
    TIMESTAMP_BYTES,
    read_ipv4_datagram,
    read_message,
)
from netstudy.wire import ICMP, ICMPEcho, decode
from netstudy.wire.icmpv6 import ICMPv6, ICMPv6Echo

MIN_USER_INTERVAL = 0.002      # iputils 20221126: "minimal interval allowed for user is 2ms" (root: none)
FLOOD_RESEND_NS = 10_000_000   # interval 0: the next probe when the reply is back, or 100 per second
MAX_PAYLOAD = {4: 65507, 6: 65527}   # 65535 minus the ICMP header (8), and IPv4's (20): IPv6's length excludes its own


@dataclass(slots=True)
class Probe:
    """One echo request and what came of it; a duplicate reply (or a second error) is a record of its own."""

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
        while in_flight < len(sends) and sends[in_flight] <= record.received_ns:
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


# -- iputils' output format ----------------------------------------------------------------------------
def _ms3(value_ms: float) -> str:
    """Milliseconds with 3 decimals, cut (not rounded) to the microsecond as iputils' integer arithmetic does."""
    us = math.floor(value_ms * 1000 + 1e-6)
    return f"{us // 1000}.{us % 1000:03d}"


def format_time(rtt_ns: int) -> str:
    """``time=0.045 ms`` with iputils' precision: 3 decimals below 1 ms, 2 below 10, 1 below 100."""
    us = rtt_ns // 1000
    if us >= 100_000 - 50:
        return f"time={(us + 500) // 1000} ms"
    if us >= 10_000 - 5:
        return f"time={(us + 50) // 1000}.{(us + 50) % 1000 // 100} ms"
    if us >= 1000:
        return f"time={(us + 5) // 1000}.{(us + 5) % 1000 // 10:02d} ms"
    return f"time={us // 1000}.{us % 1000:03d} ms"


def header_line(host: str, address: str, size: int, version: int, source: str | None = None,
                device: str = "") -> str:
    """``PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.`` (IPv6: ``PING ::1(::1) 56 data bytes``);
    with a source address (and the interface it was given as), ``from 127.0.0.1 lo:`` after the target."""
    via = f" from {source} {device}:" if source else ""
    if version == 4:
        return f"PING {host} ({address}){via} {size}({size + 28}) bytes of data."
    if host != address.split("%")[0]:           # a name: iputils shows the address's own name beside it
        try:
            address = f"{socket.gethostbyaddr(address)[0]} ({address})"
        except OSError:
            pass
    return f"PING {host}({address}){via} {size} data bytes"


def probe_line(probe: Probe, timed: bool = True, name: str | None = None, verbose: bool = False) -> str:
    """One line per answer: ``64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.045 ms`` or
    ``From 10.0.1.1 icmp_seq=1 Time to live exceeded``. ``name``: the source's host name, shown as
    iputils does (``localhost (127.0.0.1)``). ``verbose`` adds (late) and (out of order)."""
    who = f"{name} ({probe.source})" if name and name != probe.source else probe.source
    if probe.error is not None:
        if probe.source is None:
            return probe.error
        return f"From {who} icmp_seq={probe.icmp_seq} {probe.error}"
    line = f"{probe.size} bytes from {who}: icmp_seq={probe.icmp_seq} ttl={probe.ttl}"
    if timed and probe.rtt_ns is not None:
        line += " " + format_time(probe.rtt_ns)
    if probe.duplicate:
        line += " (DUP!)"
    if probe.corrupted:
        line += " (BAD CHECKSUM!)"
    if verbose and probe.late:
        line += " (late)"
    if verbose and probe.out_of_order:
        line += " (out of order)"
    return line


def statistics_lines(host: str, summary: PingSummary, timed: bool = True) -> list[str]:
    """The closing block: ``--- HOST ping statistics ---``, the counts, and ``rtt min/avg/max/mdev``."""
    s = summary
    counts = f"{s.transmitted} packets transmitted, {s.received} received"
    if s.duplicates:
        counts += f", +{s.duplicates} duplicates"
    if s.corrupted:
        counts += f", +{s.corrupted} corrupted"
    if s.errors:
        counts += f", +{s.errors} errors"
    if s.transmitted:
        counts += f", {s.loss_percent:g}% packet loss, time {round(s.time_ms)}ms"
    last = []
    if s.received and timed and s.min_ms is not None:
        last.append("rtt min/avg/max/mdev = " + "/".join(_ms3(v) for v in
                                                          (s.min_ms, s.avg_ms, s.max_ms, s.mdev_ms)) + " ms")
    if s.pipe > 1:
        last.append(f"pipe {s.pipe}")
    if s.ipg_ms is not None and s.received:
        last.append(f"ipg/ewma {_ms3(s.ipg_ms)}/{_ms3(s.ewma_ms)} ms")
    return ["", f"--- {host} ping statistics ---", counts, ", ".join(last)]


# -- results -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PingResult:
    """What a ping run found: records, summary, and how it was done (``mechanism``: raw or datagram)."""

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
                   "icmp_code", "duplicate", "late", "out_of_order", "corrupted", "sent_ns", "received_ns",
                   "rtt_ns"]
        frame = pd.DataFrame(rows, columns=columns)
        for name in ("received_ns", "rtt_ns", "ttl", "size", "icmp_type", "icmp_code"):
            frame[name] = frame[name].astype("Int64")
        return frame

    def lines(self, quiet: bool = False) -> list[str]:
        """The whole run in iputils' format: header, one line per answer (unless quiet), statistics."""
        out = [header_line(self.host, self.address, self.size, self.version)]
        if not quiet:
            answers = sorted((r for r in self.records if r.received_ns is not None or r.error is not None),
                             key=lambda r: r.received_ns or r.sent_ns)
            out += [probe_line(r, self.timed) for r in answers]
        return out + statistics_lines(self.host, self.summary, self.timed)

    def __str__(self) -> str:
        return "\n".join(self.lines())


# -- the bookkeeping (sans-I/O) ----------------------------------------------------------------------
class ProbeLog:
    """Which probes went out and what came back for each: no socket, no clock (times are given).

    ``sent(t)`` opens the record of the next probe; ``receive(event)`` files an :class:`EchoReply` or
    :class:`ProbeError` under its probe and returns the record it made or filled (None: not ours),
    marking duplicates, late and out-of-order replies on the way; ``reply(probe, ...)`` files an echo
    reply already known to answer ``probe`` (the pinger's hot path)."""

    def __init__(self, identifier: int, address: str, timeout_ns: int) -> None:
        self.identifier, self.address, self.timeout_ns = identifier, address, timeout_ns
        self.records: list[Probe] = []        # every record, in the order it was made
        self.probes: list[Probe] = []         # one per probe sent; index = seq - 1
        self.answered = 0                     # probes with a reply or an error (iputils: received + errors)
        self.highest = 0                      # highest seq answered so far

    def sent(self, sent_ns: int) -> Probe:
        probe = Probe(len(self.probes) + 1, sent_ns)
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
        """File an echo reply to ``probe``: its own record if it is the first answer, else a duplicate's."""
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
        if event.identifier != self.identifier:
            return None
        probe = self.probe_for(event.sequence)        # type: ignore[arg-type]
        if probe is None:
            return None
        if isinstance(event, EchoReply):
            return self.reply(probe, event.received_ns, event.ttl, event.size, event.source, event.checksum_ok)
        if _canonical(event.destination) != self.address:
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


# -- the engine --------------------------------------------------------------------------------------
class Ping:
    """One ping run to ``host``, with iputils' options.

    ``count`` probes (None: until ``deadline`` or Ctrl-C), one every ``interval`` seconds (0: flood,
    the next as soon as the reply is back; below 2 ms only for root, like iputils); ``size`` payload
    bytes; ``ttl``; ``timeout`` (-W): after the last probe wait this long for answers when none came
    (else twice the slowest RTT), and a reply slower than this is ``late``; ``deadline`` (-w): stop
    after this many seconds whatever happens; ``source`` (-I): address or interface to send from;
    ``version``: 4 or 6 (default: what the name resolves to, IPv4 first); ``mechanism``: ``auto``,
    ``raw`` or ``datagram``.
    """

    def __init__(self, host: str, *, count: int | None = None, interval: float = 1.0, size: int = 56,
                 ttl: int | None = None, timeout: float = 10.0, deadline: float | None = None,
                 source: str | None = None, version: int | None = None, mechanism: str = "auto") -> None:
        if count is not None and count < 1:
            raise ValueError(f"bad number of packets to transmit: {count} (needs 1 or more)")
        if interval < 0:
            raise ValueError(f"bad timing interval: {interval} (needs 0 or more)")
        if interval < MIN_USER_INTERVAL and os.geteuid() != 0:
            raise ValueError(f"cannot flood; minimal interval allowed for user is {MIN_USER_INTERVAL * 1000:g}ms")
        if timeout <= 0 or (deadline is not None and deadline <= 0):
            raise ValueError(f"bad linger time or deadline: timeout {timeout}, deadline {deadline} (need > 0)")
        self.host, self.count, self.interval = host, count, interval
        self.timeout, self.deadline, self.source = timeout, deadline, source
        self.version, self.address = resolve(host, version)
        if not 0 <= size <= MAX_PAYLOAD[self.version]:
            raise ValueError(f"invalid argument: '{size}': out of range: 0 <= value <= {MAX_PAYLOAD[self.version]}")
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
                    break                          # the wait for stragglers is over
                select(max(wake - now, 0) / 1e9 if wake is not None else None)
        finally:
            self._end_ns = perf()
            selector.close()

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


def _canonical(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address.split("%")[0]))
    except ValueError:
        return address


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
    pending: list[tuple[Any, Any, Any, int, int]] = []
    for record in records:
        packet = decode(record.data, record.linktype)
        ip, layer = packet.network, packet.transport
        if ip is None or ip.NAME not in ("IPv4", "IPv6") or not isinstance(layer, (ICMP, ICMPv6)):
            continue
        ttl = ip.ttl if ip.NAME == "IPv4" else ip.hop_limit
        if isinstance(layer, (ICMPEcho, ICMPv6Echo)) and layer.type in (8, 128):
            if log is None and (host is None or ip.dst == _canonical(host)):
                log = ProbeLog(layer.identifier, ip.dst, int(timeout * 1e9))
                version, size, first = (4 if ip.NAME == "IPv4" else 6), len(layer.payload), record.timestamp_ns
            if log is not None and layer.identifier == log.identifier and ip.dst == log.address:
                while len(log.probes) < layer.sequence:        # a request the capture missed still counts
                    log.sent(record.timestamp_ns)
                last = record.timestamp_ns
            continue
        pending.append((packet, ip, layer, ttl, record.timestamp_ns))
    if log is None:
        raise ValueError(f"no echo requests{f' to {host}' if host else ''} in this capture")
    for packet, ip, layer, ttl, at in pending:
        event = read_message(packet.data, layer.offset, version, ip.src, ttl, at,
                             verify_checksum=version == 4, end=ip.layout()[2])
        if event is not None and log.receive(event) is not None:
            last = max(last, at)
    summary = summarize(log.records, last - first)
    return PingResult(host or log.address, log.address, version, "capture", log.identifier, size,
                      tuple(log.records), summary, size >= TIMESTAMP_BYTES)
