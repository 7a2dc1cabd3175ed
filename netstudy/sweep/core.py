"""A sweep's bookkeeping with no socket and no clock (sans-I/O): which addresses were probed, how
often, what answered each and when.

:class:`SweepTable` holds one :class:`Target` per address and moves each through :data:`TABLE`:

    QUEUED --send--> WAITING --answer--> ALIVE
                     WAITING --unreachable--> UNREACHABLE   (a router, or our own stack, said so)
                     WAITING --retry--> QUEUED              (no answer within this attempt's wait)
                     WAITING --give up--> SILENT            (no answer to any attempt)

The engine asks it what to send next (``send(now_ns)`` -> a :class:`Probe`, or None), hands it what
arrived (``receive(event, now_ns)``: an ICMP :class:`~netstudy.wire.echo.EchoReply` or
:class:`~netstudy.wire.echo.ProbeError`, or an :class:`Answer` from ARP or TCP) and tells it the time
(``expire(now_ns)``: waits that ran out become retries, with back-off, or give up). Answers that are
not ours, or come after we gave up, are counted and ignored. :meth:`SweepTable.result` is the
:class:`SweepResult`, with ``to_frame()``.
"""
from __future__ import annotations

import enum
import heapq
import ipaddress
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from netstudy.errors import InputError
from netstudy.states import StateTable
from netstudy.wire.echo import EchoReply, ProbeError

MAX_ADDRESSES = 65536          # a /16: more is a typo (a /8 is 16 million probes), or a job for another tool
METHODS = ("icmp", "arp", "tcp")
INITIAL_TTLS = (64, 128, 255)  # Linux, macOS and the BSDs: 64; Windows: 128; many routers, Solaris: 255


class State(enum.Enum):
    """Where an address stands in a sweep."""

    QUEUED = "queued"              # not probed yet, or waiting for its next attempt
    WAITING = "waiting"            # a probe is out, its wait not over
    ALIVE = "alive"                # it answered (echo reply, ARP reply, TCP SYN-ACK or RST)
    UNREACHABLE = "unreachable"    # an ICMP error said nobody can deliver to it
    SILENT = "silent"              # no answer to any attempt


TABLE: StateTable[State] = StateTable(State.QUEUED, {
    (State.QUEUED, "send"): State.WAITING,
    (State.WAITING, "answer"): State.ALIVE,
    (State.QUEUED, "answer"): State.ALIVE,              # the answer to an earlier attempt, before the retry left
    (State.WAITING, "unreachable"): State.UNREACHABLE,
    (State.QUEUED, "unreachable"): State.UNREACHABLE,
    (State.WAITING, "retry"): State.QUEUED,
    (State.WAITING, "give up"): State.SILENT,
    (State.QUEUED, "give up"): State.SILENT,            # the sweep ends first (interrupted, or a replay's end)
})
SETTLED = frozenset({State.ALIVE, State.UNREACHABLE, State.SILENT})


def initial_ttl(ttl: int) -> int:
    """The TTL an answer most likely left with: the smallest usual initial TTL (64, 128, 255) not below
    the TTL it arrived with. Each router on the way took one off, so the difference counts them."""
    return next(start for start in INITIAL_TTLS if ttl <= start)


def expand(targets: str | Iterable[str]) -> list[str]:
    """The IPv4 addresses a sweep of ``targets`` probes, in order, each once: a CIDR (``10.0.0.0/24``:
    its hosts, without the network and broadcast addresses, as ``fping -g`` does; a /31 or /32 whole),
    an address, or a list of either. :class:`InputError` for anything else, for IPv6, and for more
    than a /16's worth of addresses."""
    specs = [targets] if isinstance(targets, str) else list(targets)
    if not specs:
        raise InputError("nothing to sweep: give a network (10.0.0.0/24) or addresses")
    seen: dict[str, None] = {}
    for spec in specs:
        try:
            network = ipaddress.ip_network(spec.strip(), strict=False)
        except ValueError:
            raise InputError(f"{spec!r} does not appear to be an IPv4 network or address "
                             f"(like 10.0.0.0/24 or 10.0.0.7)") from None
        if network.version != 4:
            raise InputError(f"{spec}: a sweep takes IPv4 networks; an IPv6 subnet (a /64 holds 2**64 "
                             f"addresses) is found another way (ping ff02::1, the neighbour table)")
        if network.num_addresses > MAX_ADDRESSES:
            raise InputError(f"{spec} holds {network.num_addresses} addresses; a sweep takes at most a /16 "
                             f"({MAX_ADDRESSES}): sweep its /16s one at a time")
        hosts = network.hosts() if network.prefixlen < 31 else iter(network)
        for address in hosts:
            seen[str(address)] = None
        if len(seen) > MAX_ADDRESSES:
            raise InputError(f"{len(seen)} addresses; a sweep takes at most {MAX_ADDRESSES} (a /16)")
    return list(seen)


@dataclass(frozen=True, slots=True)
class Probe:
    """What the engine must send now: an attempt (0 = the first) at ``address``; ``sequence`` is the
    ICMP echo sequence number that identifies it (other methods identify by address)."""

    address: str
    index: int
    attempt: int
    sequence: int


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer that is not ICMP, as an engine read it: an ARP reply (``kind="arp reply"``, with the
    sender's ``mac``), a TCP ``"syn-ack"`` or ``"reset"`` from ``port``, a TCP connect that failed with
    ``"unreachable"``, or ``"local"`` (the address is this host's own)."""

    address: str
    kind: str
    received_ns: int
    mac: str = ""
    port: int | None = None
    ttl: int | None = None
    reason: str = ""                 # why, for ``"unreachable"`` (``connect: No route to host``)


@dataclass(frozen=True, slots=True)
class Mark:
    """One moment of a sweep, for its timeline: ``what`` is ``"probe"``, ``"answer"``, ``"unreachable"``,
    ``"retry"`` (a wait ran out, another attempt queued), ``"give up"`` or ``"late"`` (after giving up)."""

    t_ns: int
    address: str
    what: str
    attempt: int


@dataclass(slots=True)
class Target:
    """One address and what the sweep learned about it. ``state`` moves through :data:`TABLE` only."""

    address: str
    index: int
    state: State = State.QUEUED
    attempts: int = 0                        # probes sent
    first_sent_ns: int | None = None
    received_ns: int | None = None
    rtt_ns: int | None = None                # from the attempt that was answered
    ttl: int | None = None                   # of the answer's IP header (ICMP); None for ARP and TCP connect
    answer: str = ""                         # "echo reply", "arp reply", "syn-ack", "reset", an ICMP error's text
    source: str | None = None                # who answered (a router, for an unreachable)
    icmp_type: int | None = None
    icmp_code: int | None = None
    mac: str = ""
    vendor: str = ""
    port: int | None = None                  # TCP: the port that answered
    found_by: str = ""                       # the method(s) that found it alive
    sent_ns: list[int] = field(default_factory=list)     # every attempt's send time

    @property
    def alive(self) -> bool:
        return self.state is State.ALIVE

    @property
    def rtt_ms(self) -> float | None:
        return None if self.rtt_ns is None else self.rtt_ns / 1e6

    @property
    def initial_ttl(self) -> int | None:
        """The usual initial TTL the answer most likely left with (64, 128 or 255)."""
        return None if self.ttl is None else initial_ttl(self.ttl)

    @property
    def hops(self) -> int | None:
        """Routers between us, from the TTL: ``initial_ttl - ttl``."""
        return None if self.ttl is None else initial_ttl(self.ttl) - self.ttl


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep: every address probed and what became of it, the timeline of probes and
    answers, and how it ran (``method``; ``mechanism``: ``raw``, ``datagram``, ``packet``, ``connect``
    or ``capture``). ``netstudy.sweep.output.sweep_lines(result)`` prints it like ``fping -a -e``."""

    spec: str
    method: str
    mechanism: str
    targets: tuple[Target, ...]
    elapsed_ns: int
    timeline: tuple[Mark, ...] = ()
    late: int = 0                           # answers after we had given up on the address
    strays: int = 0                         # answers that matched none of our probes

    @property
    def alive(self) -> list[Target]:
        return [t for t in self.targets if t.alive]

    def addresses(self, state: State = State.ALIVE) -> list[str]:
        """The addresses in ``state`` (default: alive), in sweep order."""
        return [t.address for t in self.targets if t.state is state]

    @property
    def scanned(self) -> int:
        return len(self.targets)

    @property
    def elapsed_s(self) -> float:
        return self.elapsed_ns / 1e9

    @property
    def probes(self) -> int:
        return sum(t.attempts for t in self.targets)

    def get(self, address: str) -> Target | None:
        return next((t for t in self.targets if t.address == address), None)

    def to_frame(self) -> Any:
        """One row per address (address, state, rtt_ms, ttl, initial_ttl, hops, answer, mac, vendor,
        attempts, ...), in sweep order; pandas is imported here, only when asked."""
        import pandas as pd
        start = min((t.first_sent_ns for t in self.targets if t.first_sent_ns is not None), default=0)
        rows = []
        for t in self.targets:
            row = {f.name: getattr(t, f.name) for f in fields(Target) if f.name != "sent_ns"}
            row.update(state=t.state.value, rtt_ms=t.rtt_ms, initial_ttl=t.initial_ttl, hops=t.hops,
                       sent_ms=None if t.first_sent_ns is None else (t.first_sent_ns - start) / 1e6)
            rows.append(row)
        columns = ["address", "state", "rtt_ms", "ttl", "initial_ttl", "hops", "answer", "source", "mac",
                   "vendor", "port", "attempts", "found_by", "sent_ms", "icmp_type", "icmp_code",
                   "first_sent_ns", "received_ns", "rtt_ns"]
        frame = pd.DataFrame(rows, columns=columns)
        for name in ("ttl", "initial_ttl", "hops", "port", "icmp_type", "icmp_code", "first_sent_ns",
                     "received_ns", "rtt_ns"):
            frame[name] = frame[name].astype("Int64")
        return frame

    def timeline_frame(self) -> Any:
        """The timeline as a DataFrame: ``t_ms`` from the first probe, ``address``, ``what``, ``attempt``."""
        import pandas as pd
        start = self.timeline[0].t_ns if self.timeline else 0
        return pd.DataFrame([{"t_ms": (m.t_ns - start) / 1e6, "address": m.address, "what": m.what,
                              "attempt": m.attempt} for m in self.timeline],
                            columns=["t_ms", "address", "what", "attempt"])


class SweepTable:
    """The probes of one sweep and the answers filed under them: no socket, no clock (sans-I/O).

    ``addresses`` in the order to probe; ``method`` (``icmp``, ``arp`` or ``tcp``); ``identifier``: the
    ICMP echo identifier our probes carry; each attempt waits ``timeout_ns`` times ``backoff`` to the
    power of the attempt number (0, 1, ...) for an answer; ``retries`` more attempts follow the first.
    """

    def __init__(self, addresses: Sequence[str], method: str = "icmp", *, identifier: int = 0,
                 timeout_ns: int = 500_000_000, retries: int = 1, backoff: float = 1.5) -> None:
        if method not in METHODS:
            raise InputError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
        if timeout_ns <= 0 or retries < 0 or backoff < 1:
            raise InputError(f"need timeout > 0 (got {timeout_ns / 1e9:g} s), retries >= 0 (got {retries}) "
                             f"and backoff >= 1 (got {backoff:g})")
        self.method, self.identifier = method, identifier
        self.timeout_ns, self.retries, self.backoff = timeout_ns, retries, backoff
        self.targets = [Target(address, i) for i, address in enumerate(addresses)]
        self._by_address = {t.address: t for t in self.targets}
        self._fresh: deque[Target] = deque(self.targets)
        self._retries: deque[Target] = deque()
        self._deadlines: list[tuple[int, int, int]] = []       # heap of (deadline, index, attempt)
        self._by_sequence: dict[int, tuple[Target, int]] = {}
        self.timeline: list[Mark] = []
        self.settled = 0
        self.late = self.strays = 0

    # -- sending --
    def wait_ns(self, attempt: int) -> int:
        """How long attempt ``attempt`` (0 = the first) waits for its answer."""
        return int(self.timeout_ns * self.backoff ** attempt)

    def sequence(self, index: int, attempt: int) -> int:
        """The echo sequence number of an attempt: a different one for every attempt at an address, so
        an answer tells which attempt it answers (modulo 2**16; the address settles a clash)."""
        return (index + attempt * len(self.targets)) & 0xFFFF

    @property
    def has_due(self) -> bool:
        """Whether a probe is waiting to be sent (a first attempt, or a retry)."""
        return bool(self._retries or self._fresh)

    def send(self, now_ns: int) -> Probe | None:
        """The next probe to send (retries first, then addresses not probed yet), marked as sent at
        ``now_ns``; None when nothing is due."""
        while self._retries or self._fresh:
            target = self._retries.popleft() if self._retries else self._fresh.popleft()
            if target.state is State.QUEUED:          # an earlier attempt's late answer may have settled it
                return self.sent(target, now_ns)
        return None

    def sent(self, target: Target | str, now_ns: int, sequence: int | None = None) -> Probe:
        """Record an attempt at ``target`` leaving at ``now_ns`` (what :meth:`send` does; a replay calls it
        for each probe a capture shows, with the ``sequence`` number the capture shows). A target still
        waiting for its last attempt is retried first (a capture shows retries, not waits)."""
        if isinstance(target, str):
            target = self._by_address[target]
        if target.state is State.WAITING:
            target.state = TABLE.next(target.state, "retry")
            self.timeline.append(Mark(now_ns, target.address, "retry", target.attempts - 1))
        target.state = TABLE.next(target.state, "send")
        attempt = target.attempts
        target.attempts += 1
        target.sent_ns.append(now_ns)
        if target.first_sent_ns is None:
            target.first_sent_ns = now_ns
        if sequence is None:
            sequence = self.sequence(target.index, attempt)
        self._by_sequence[sequence] = (target, attempt)
        heapq.heappush(self._deadlines, (now_ns + self.wait_ns(attempt), target.index, attempt))
        self.timeline.append(Mark(now_ns, target.address, "probe", attempt))
        return Probe(target.address, target.index, attempt, sequence)

    # -- receiving --
    def receive(self, event: EchoReply | ProbeError | Answer, now_ns: int | None = None) -> Target | None:
        """File an answer under its address; returns the target if this answer settled it, else None
        (not ours, a duplicate, or after we gave up: counted in ``strays`` or ``late``)."""
        if isinstance(event, Answer):
            target = self._by_address.get(event.address)
            attempt = (target.attempts - 1) if target is not None else 0
        else:
            if event.identifier != self.identifier or event.sequence is None:
                self.strays += 1
                return None
            found = self._by_sequence.get(event.sequence)
            address = event.source if isinstance(event, EchoReply) else event.destination
            if found is None or found[0].address != address:
                self.strays += 1
                return None
            target, attempt = found
        if target is None or target.attempts == 0:
            self.strays += 1
            return None
        at = event.received_ns if now_ns is None else now_ns
        if target.state in SETTLED:
            if target.state is State.SILENT:
                self.late += 1
                self.timeline.append(Mark(at, target.address, "late", attempt))
            return None
        unreachable = isinstance(event, ProbeError) or (isinstance(event, Answer) and event.kind == "unreachable")
        target.state = TABLE.next(target.state, "unreachable" if unreachable else "answer")
        target.received_ns = event.received_ns
        target.rtt_ns = max(event.received_ns - target.sent_ns[attempt], 0)
        if isinstance(event, EchoReply):
            target.ttl, target.answer, target.source = event.ttl, "echo reply", event.source
            target.icmp_type, target.icmp_code = 0, 0
        elif isinstance(event, ProbeError):
            target.ttl, target.answer, target.source = event.ttl, event.text, event.source
            target.icmp_type, target.icmp_code = event.icmp_type, event.icmp_code
        else:
            target.answer, target.source, target.mac = event.reason or event.kind, event.address, event.mac
            target.port, target.ttl = event.port, event.ttl
        if target.alive:
            target.found_by = self.method
        self.settled += 1
        self.timeline.append(Mark(at, target.address, "unreachable" if unreachable else "answer", attempt))
        return target

    # -- time passing --
    def expire(self, now_ns: int) -> list[Target]:
        """Attempts whose wait ran out by ``now_ns``: another attempt is queued (``retry``) while retries
        remain, else the address is given up (``SILENT``). Returns the targets given up."""
        given_up = []
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now_ns:
            deadline, index, attempt = heapq.heappop(deadlines)
            target = self.targets[index]
            if target.state is not State.WAITING or target.attempts != attempt + 1:
                continue                               # answered, or a newer attempt is out
            if attempt < self.retries:
                target.state = TABLE.next(target.state, "retry")
                self._retries.append(target)
                self.timeline.append(Mark(deadline, target.address, "retry", attempt))
            else:
                target.state = TABLE.next(target.state, "give up")
                self.settled += 1
                self.timeline.append(Mark(deadline, target.address, "give up", attempt))
                given_up.append(target)
        return given_up

    def finish(self, now_ns: int) -> list[Target]:
        """End the sweep at ``now_ns``: every address not settled yet is given up (``SILENT``), whatever
        its attempts (an interrupted sweep; the end of a replayed capture); addresses never probed stay
        ``QUEUED`` and are not sent any more. Returns the ones given up."""
        given_up = []
        for target in self.targets:
            if target.state in (State.WAITING, State.QUEUED) and target.attempts:
                target.state = TABLE.next(target.state, "give up")
                self.settled += 1
                self.timeline.append(Mark(now_ns, target.address, "give up", target.attempts - 1))
                given_up.append(target)
        self._retries.clear()
        self._fresh.clear()
        self._deadlines.clear()
        return given_up

    def next_deadline(self) -> int | None:
        """When the earliest wait still running ends (None: nothing in flight)."""
        return self._deadlines[0][0] if self._deadlines else None

    def in_flight(self) -> int:
        return sum(1 for t in self.targets if t.state is State.WAITING)

    @property
    def done(self) -> bool:
        return self.settled == len(self.targets)

    def result(self, spec: str, mechanism: str, elapsed_ns: int) -> SweepResult:
        return SweepResult(spec, self.method, mechanism, tuple(self.targets), elapsed_ns,
                           tuple(sorted(self.timeline, key=lambda m: m.t_ns)), self.late, self.strays)


def combine(results: Sequence[SweepResult]) -> SweepResult:
    """One result from sweeps of the same addresses by several methods (``--method all``): an address
    is alive if any method found it; it keeps the first alive record's RTT and answer, and takes the
    TTL, MAC and vendor from whichever method saw them. ``found_by`` lists every method that found it."""
    if not results:
        raise InputError("nothing to combine")
    merged: dict[str, Target] = {}
    for result in results:
        for t in result.targets:
            have = merged.get(t.address)
            if have is None:
                merged[t.address] = replace(t, sent_ns=list(t.sent_ns))
                continue
            if t.alive and not have.alive:
                found_by = have.found_by
                have = merged[t.address] = replace(t, sent_ns=list(t.sent_ns), found_by=found_by,
                                                   attempts=have.attempts + t.attempts,
                                                   ttl=t.ttl if t.ttl is not None else have.ttl,
                                                   mac=t.mac or have.mac, vendor=t.vendor or have.vendor)
            else:
                have.attempts += t.attempts
                have.mac, have.vendor = have.mac or t.mac, have.vendor or t.vendor
                if have.ttl is None and t.alive:
                    have.ttl = t.ttl
            if t.alive:
                have.found_by = ",".join(filter(None, (have.found_by, result.method)))
    timeline = tuple(sorted((m for r in results for m in r.timeline), key=lambda m: m.t_ns))
    return SweepResult(results[0].spec, "+".join(r.method for r in results),
                       "+".join(r.mechanism for r in results), tuple(merged.values()),
                       sum(r.elapsed_ns for r in results), timeline,
                       sum(r.late for r in results), sum(r.strays for r in results))
