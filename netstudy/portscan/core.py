"""A port scan's bookkeeping with no socket and no clock (sans-I/O): which (host, protocol, port) were
probed, how often, what answered and how nmap names it.

Port states and reasons are nmap's (nmap.org/book/man-port-scanning-basics.html):

- ``open``: something accepts connections (TCP SYN/ACK: reason ``syn-ack``; a UDP answer: ``udp-response``);
- ``closed``: reachable, nobody listening (TCP RST: ``reset`` in a SYN scan, ``conn-refused`` for
  ``connect()``; UDP: ICMP port unreachable, ``port-unreach``);
- ``filtered``: a firewall keeps us from knowing (no answer after retries: ``no-response``; an ICMP
  unreachable of code 0, 1, 2, 3 (TCP), 9, 10 or 13: ``net-unreach``, ``host-unreach``, ``proto-unreach``,
  ``port-unreach``, ``net-prohibited``, ``host-prohibited``, ``admin-prohibited``);
- ``open|filtered``: UDP only: silence, which an open port that ignores our probe and a firewall that
  drops it both give.

:class:`ScanTable` holds one :class:`PortRecord` per probe target and moves each through the scan's
table (:data:`TCP_TABLE` or :data:`UDP_TABLE`, which differ only in what silence means):

    QUEUED --send--> WAITING --open | closed | filtered--> OPEN | CLOSED | FILTERED
                     WAITING --retry--> QUEUED            (no answer within this attempt's wait)
                     WAITING --requeue--> QUEUED          (the probe did not count: self-connect, no free port)
                     WAITING --silent--> FILTERED (TCP) or OPEN|FILTERED (UDP)

The engine asks it what to send (``send(now_ns)`` -> :class:`Probe`, or ``send_many(now_ns, count)``
for a burst), hands it :class:`Answer` events (``receive(answer, now_ns)``; many of one verdict at
once, :class:`AnswersAlike`, with ``receive_alike``) and tells it the time
(``expire(now_ns)``). :meth:`ScanTable.result` is the :class:`ScanResult`, with ``to_frame()``,
``to_csv()`` and ``to_json()``.
"""
from __future__ import annotations

import contextlib
import enum
import errno as errnos
import gc
import io
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from netstudy.errors import InputError
from netstudy.states import StateTable

SCANS = ("connect", "syn", "udp")
SCAN_PROTOCOL = {"connect": "tcp", "syn": "tcp", "udp": "udp"}
SCAN_FLAG = {"connect": "-sT", "syn": "-sS", "udp": "-sU"}


# -- verdicts: what an answer means, as nmap defines it -------------------------------------------------
ICMP_REASONS = {0: "net-unreach", 1: "host-unreach", 2: "proto-unreach", 3: "port-unreach",
                9: "net-prohibited", 10: "host-prohibited", 13: "admin-prohibited"}
FILTERING_CODES = frozenset(ICMP_REASONS)


def tcp_verdict(syn: bool, ack: bool, rst: bool) -> tuple[str, str] | None:
    """A SYN scan's verdict on the flags of the segment that answered a SYN: SYN/ACK (or a bare SYN,
    the split handshake) -> open, RST -> closed; None for anything else (not an answer)."""
    if rst:
        return "closed", "reset"
    if syn:
        return "open", "syn-ack" if ack else "syn"
    return None


def icmp_verdict(protocol: str, icmp_type: int | None, code: int) -> tuple[str, str] | None:
    """The verdict on an ICMP destination unreachable (type 3) that quotes our probe: UDP port
    unreachable -> closed; codes 0, 1, 2, 3, 9, 10, 13 -> filtered; None for anything else."""
    if icmp_type != 3 or code not in FILTERING_CODES:
        return None
    if protocol == "udp" and code == 3:
        return "closed", "port-unreach"
    return "filtered", ICMP_REASONS[code]


CONNECT_ERRORS = {errnos.ECONNREFUSED: ("closed", "conn-refused"),
                  errnos.EHOSTUNREACH: ("filtered", "host-unreach"),
                  errnos.ENETUNREACH: ("filtered", "net-unreach"),
                  errnos.EACCES: ("filtered", "admin-prohibited"),
                  errnos.EPERM: ("filtered", "admin-prohibited"),
                  errnos.ENOPROTOOPT: ("filtered", "proto-unreach"),
                  errnos.EHOSTDOWN: ("filtered", "host-unreach"),
                  errnos.ENONET: ("filtered", "host-unreach")}
RESOURCE_ERRORS = frozenset({errnos.EADDRNOTAVAIL, errnos.EAGAIN, errnos.ENOBUFS, errnos.EMFILE, errnos.ENFILE})


def connect_verdict(code: int) -> tuple[str, str] | None:
    """A connect scan's verdict on ``connect()``'s outcome (0 or an errno): connected -> open
    (``syn-ack``), ECONNREFUSED -> closed (``conn-refused``), unreachable errors -> filtered;
    ``("requeue", ...)`` for a shortage on our side (no free port, no descriptor): try again; None
    while still in progress."""
    if code == 0:
        return "open", "syn-ack"
    if code in (errnos.EINPROGRESS, errnos.EALREADY, errnos.ETIMEDOUT):
        return None
    known = CONNECT_ERRORS.get(code)
    if known is not None:
        return known
    if code in RESOURCE_ERRORS:
        return "requeue", errnos.errorcode.get(code, str(code))
    return "filtered", errnos.errorcode.get(code, str(code)).lower()


# -- the table ------------------------------------------------------------------------------------------
@contextlib.contextmanager
def paused_collection() -> Iterator[None]:
    """The cyclic garbage collector off for a block that makes thousands of objects and no cycle: it runs
    every 700 allocations and, as the objects pile up, walks them all (building a full scan's 65,535
    records took twice as long; unpickling a worker's batch, three times)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()



class State(enum.Enum):
    """Where a port stands: waiting to be probed or answered, or one of nmap's states."""

    QUEUED = "queued"
    WAITING = "waiting"
    OPEN = "open"
    CLOSED = "closed"
    FILTERED = "filtered"
    OPEN_FILTERED = "open|filtered"

    __hash__ = object.__hash__      # members are singletons: hash by identity, in C (Enum's hashes the name in Python)


def _table(silence: State) -> StateTable[State]:
    moves: dict[tuple[State, str], State] = {(State.QUEUED, "send"): State.WAITING}
    for waiting in (State.WAITING, State.QUEUED):        # QUEUED: the answer to an earlier attempt, or the end
        moves[waiting, "open"] = State.OPEN
        moves[waiting, "closed"] = State.CLOSED
        moves[waiting, "filtered"] = State.FILTERED
        moves[waiting, "silent"] = silence
    moves[State.WAITING, "retry"] = State.QUEUED
    moves[State.WAITING, "requeue"] = State.QUEUED
    return StateTable(State.QUEUED, moves)


TCP_TABLE = _table(State.FILTERED)               # connect and SYN scans: silence is filtered
UDP_TABLE = _table(State.OPEN_FILTERED)          # UDP: silence may be an open port that ignores us
SETTLED = frozenset({State.OPEN, State.CLOSED, State.FILTERED, State.OPEN_FILTERED})


@dataclass(slots=True)
class Probe:
    """What the engine must send now: ``attempt`` (0 = first) at ``host``:``port``/``protocol``;
    ``index`` identifies the record. (Not frozen: one is made per port, and a frozen dataclass takes
    twice as long to build; nobody changes it.)"""

    host: str
    port: int
    protocol: str
    attempt: int
    index: int


class Answer(NamedTuple):
    """What an engine read about a probe: ``verdict`` (``open``, ``closed``, ``filtered``, or
    ``requeue``: the probe did not count), nmap's ``reason``, when, and the answer's TTL if seen.
    (A named tuple: one is made per port, and it is built three times faster than a frozen dataclass.)"""

    host: str
    port: int
    protocol: str
    verdict: str
    reason: str
    received_ns: int
    ttl: int | None = None


class AnswersAlike(NamedTuple):
    """Many probes answered alike, named by record index: a connect scan's ports refused within the
    connect() call itself (on this host the RST comes back before the call returns), one per port."""

    verdict: str
    reason: str
    indices: list[int]
    received_ns: list[int]


@dataclass(slots=True)
class PortRecord:
    """One (host, protocol, port) and what the scan learned. ``state`` moves through the table only."""

    host: str
    port: int
    protocol: str
    index: int
    state: State = State.QUEUED
    reason: str = ""
    attempts: int = 0
    sent_ns: list[int] = field(default_factory=list)      # every attempt's send time
    received_ns: int | None = None
    rtt_ns: int | None = None
    ttl: int | None = None
    service: str = ""
    banner: str = ""
    requeued: int = 0                                     # probes that did not count (self-connect, ...)
    token: int = 0                                        # which send a deadline belongs to

    @property
    def rtt_ms(self) -> float | None:
        return None if self.rtt_ns is None else self.rtt_ns / 1e6

    @property
    def label(self) -> str:
        """``22/tcp``, as nmap writes a port."""
        return f"{self.port}/{self.protocol}"


COLUMNS = ("host", "port", "protocol", "state", "reason", "rtt_ms", "ttl", "service", "banner", "attempts",
           "sent_ms", "answered_ms")


@dataclass
class ScanResult:
    """A finished scan (or several of the same targets, :func:`combine`): one record per (host,
    protocol, port); ``scans`` (``connect``, ``syn``, ``udp``) and ``mechanism`` say how it ran;
    ``notes`` what the reader should know (ICMP rate limits, self-connects avoided)."""

    spec: str
    scans: tuple[str, ...]
    mechanism: str
    records: Sequence[PortRecord]           # a list, or (a split scan's) RecordColumns
    elapsed_ns: int
    notes: list[str] = field(default_factory=list)
    self_connects: int = 0
    late: int = 0
    strays: int = 0
    hosts: tuple[str, ...] = ()
    started: str = ""                      # wall-clock start, for the report's first line
    names: dict[str, str] = field(default_factory=dict)     # {address: the name it was given as}

    @property
    def elapsed_s(self) -> float:
        return self.elapsed_ns / 1e9

    @property
    def probes(self) -> int:
        return sum(r.attempts for r in self.records)

    def ports(self, state: str | State = "open", protocol: str | None = None, host: str | None = None) -> list[int]:
        """The ports in ``state`` (default open), sorted; optionally of one protocol or host."""
        wanted = state.value if isinstance(state, State) else state
        return sorted(r.port for r in self.records if r.state.value == wanted
                      and (protocol is None or r.protocol == protocol) and (host is None or r.host == host))

    def states(self, protocol: str | None = None, host: str | None = None) -> dict[int, str]:
        """``{port: state}`` of one protocol (and host), for comparing with another scanner."""
        return {r.port: r.state.value for r in self.records
                if (protocol is None or r.protocol == protocol) and (host is None or r.host == host)}

    def get(self, port: int, protocol: str = "tcp", host: str | None = None) -> PortRecord | None:
        return next((r for r in self.records if r.port == port and r.protocol == protocol
                     and (host is None or r.host == host)), None)

    def counts(self) -> Counter[tuple[str, str, str, str]]:
        """How many ports per (host, protocol, state, reason)."""
        return Counter((r.host, r.protocol, r.state.value, r.reason) for r in self.records)

    def rows(self) -> list[dict[str, Any]]:
        start = min((r.sent_ns[0] for r in self.records if r.sent_ns), default=0)
        return [{"host": r.host, "port": r.port, "protocol": r.protocol, "state": r.state.value,
                 "reason": r.reason, "rtt_ms": r.rtt_ms, "ttl": r.ttl, "service": r.service, "banner": r.banner,
                 "attempts": r.attempts,
                 "sent_ms": (r.sent_ns[0] - start) / 1e6 if r.sent_ns else None,
                 "answered_ms": (r.received_ns - start) / 1e6 if r.received_ns is not None and r.sent_ns else None}
                for r in self.records]

    def to_frame(self) -> Any:
        """One row per (host, protocol, port): state, reason, rtt_ms, ttl, service, banner, attempts,
        and when the first probe left and the answer came (ms from the scan's first probe)."""
        import pandas as pd
        frame = pd.DataFrame(self.rows(), columns=list(COLUMNS))
        frame["ttl"] = frame["ttl"].astype("Int64")
        return frame

    def to_csv(self) -> str:
        """The records as CSV text (the columns of :meth:`to_frame`)."""
        # imported here, as json below: a scan that exports nothing never needs them (3 ms of its start)
        import csv
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows())
        return out.getvalue()

    def to_json(self) -> str:
        """The scan as JSON: how it ran, then one object per record (what :meth:`from_json` reads)."""
        import json
        return json.dumps({"spec": self.spec, "scans": list(self.scans), "mechanism": self.mechanism,
                           "elapsed_s": self.elapsed_s, "started": self.started, "hosts": list(self.hosts),
                           "notes": self.notes, "self_connects": self.self_connects, "late": self.late,
                           "strays": self.strays, "names": self.names, "ports": self.rows()}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> ScanResult:
        """A result saved by :meth:`to_json` (a recorded scan; times kept relative to its first probe)."""
        import json
        data = json.loads(text)
        records = []
        for i, row in enumerate(data["ports"]):
            sent = [] if row["sent_ms"] is None else [int(row["sent_ms"] * 1e6)]
            received = None if row["answered_ms"] is None else int(row["answered_ms"] * 1e6)
            records.append(PortRecord(row["host"], row["port"], row["protocol"], i, State(row["state"]),
                                      row["reason"], row["attempts"], sent, received,
                                      None if row["rtt_ms"] is None else int(row["rtt_ms"] * 1e6), row["ttl"],
                                      row["service"] or "", row["banner"] or ""))
        return cls(data["spec"], tuple(data["scans"]), data["mechanism"], records, int(data["elapsed_s"] * 1e9),
                   list(data["notes"]), data["self_connects"], data["late"], data["strays"],
                   tuple(data["hosts"]), data.get("started", ""), dict(data.get("names", {})))

    def timeline_frame(self) -> Any:
        """Per record: when its first probe left and its answer came (ms from the first probe), the
        state, and how many attempts it took: a scan's timeline."""
        frame = self.to_frame()
        return frame[["host", "port", "protocol", "state", "reason", "attempts", "sent_ms", "answered_ms"]]


class ScanTable:
    """The probes of one scan type (``connect``, ``syn`` or ``udp``) over ``hosts`` × ``ports``, and
    the answers filed under them: no socket, no clock.

    Each attempt waits ``timeout_ns`` × ``backoff`` ** attempt for its answer; ``retries`` more
    attempts follow the first. Probes go out port by port across hosts (the first port of every
    host, then the second...), so no host gets a burst."""

    def __init__(self, hosts: Sequence[str], ports: Sequence[int], scan: str = "connect", *,
                 timeout_ns: int = 1_000_000_000, retries: int = 1, backoff: float = 1.5) -> None:
        if scan not in SCANS:
            raise InputError(f"scan must be one of {', '.join(SCANS)}, not {scan!r}")
        if timeout_ns <= 0 or retries < 0 or backoff < 1:
            raise InputError(f"need timeout > 0 (got {timeout_ns / 1e9:g} s), retries >= 0 (got {retries}) "
                             f"and backoff >= 1 (got {backoff:g})")
        if not hosts or not ports:
            raise InputError("nothing to scan: no " + ("host" if not hosts else "port"))
        self.scan, self.protocol = scan, SCAN_PROTOCOL[scan]
        self.table = UDP_TABLE if self.protocol == "udp" else TCP_TABLE
        self.timeout_ns, self.retries, self.backoff = timeout_ns, retries, backoff
        self._waits = [int(timeout_ns * backoff ** attempt) for attempt in range(retries + 1)]
        self.hosts = tuple(hosts)
        self.records: list[PortRecord] = []
        self._width = len(hosts)
        self._host_at = {host: j for j, host in enumerate(self.hosts)}
        self._port_at: dict[int, int] = {}
        self._fresh: deque[PortRecord] = deque()
        self.add_ports(ports)
        self._retries: deque[PortRecord] = deque()
        # one queue of (deadline, index, token) per attempt: every attempt n waits as long, and time only
        # moves forward, so each queue is in deadline order (no heap needed)
        self._deadlines: list[deque[tuple[int, int, int]]] = [deque() for _ in range(retries + 1)]
        self.settled = 0
        self.late = self.strays = self.self_connects = 0
        self.in_flight = 0

    def add_ports(self, ports: Sequence[int]) -> None:
        """More ports to probe on every host, after those the table has (a worker of a split scan takes
        the ports it scans a share at a time); their records follow the others, in index order."""
        if not self._port_at.keys().isdisjoint(ports):
            raise InputError("a port added to a scan is in it already")
        start, width = len(self._port_at), self._width
        with paused_collection():
            fresh = [PortRecord(host, port, self.protocol, i * width + j)
                     for i, port in enumerate(ports, start) for j, host in enumerate(self.hosts)]
        self.records += fresh
        self._port_at.update(zip(ports, range(start, start + len(ports)), strict=True))
        self._fresh.extend(fresh)

    # -- sending --
    def wait_ns(self, attempt: int) -> int:
        return self._waits[attempt] if attempt < len(self._waits) else int(self.timeout_ns * self.backoff ** attempt)

    @property
    def has_due(self) -> bool:
        return bool(self._retries or self._fresh)

    def send(self, now_ns: int) -> Probe | None:
        """The next probe (retries first), marked as sent at ``now_ns``; None when nothing is due."""
        probes = self.send_many(now_ns, 1)
        return probes[0] if probes else None

    def send_many(self, now_ns: int, count: int) -> list[Probe]:
        """The next ``count`` probes (retries first; fewer if fewer are due), each marked as sent at
        ``now_ns``: an unpaced scan's burst, with no call per probe."""
        probes: list[Probe] = []
        retries, fresh, queued, sent = self._retries, self._fresh, State.QUEUED, self.table.next(State.QUEUED, "send")
        waits, deadlines, add = self._waits, self._deadlines, probes.append
        while count and (retries or fresh):
            record = retries.popleft() if retries else fresh.popleft()
            if record.state is not queued:            # settled by a late answer while queued for a retry
                continue
            record.state = sent
            attempt, token, index = record.attempts, record.token + 1, record.index
            record.attempts, record.token = attempt + 1, token
            record.sent_ns.append(now_ns)
            deadlines[attempt].append((now_ns + waits[attempt], index, token))
            add(Probe(record.host, record.port, record.protocol, attempt, index))
            count -= 1
        self.in_flight += len(probes)
        return probes

    # -- receiving --
    def lookup(self, host: str, port: int) -> PortRecord | None:
        j, i = self._host_at.get(host), self._port_at.get(port)
        return None if i is None or j is None else self.records[i * self._width + j]

    def receive(self, answer: Answer, now_ns: int | None = None) -> PortRecord | None:
        """File an answer; returns the record if it settled it (or requeued it), else None: not ours,
        a duplicate, or after we gave up (counted in ``strays`` / ``late``)."""
        host, port, protocol, verdict, reason, received_ns, ttl = answer
        i, j = self._port_at.get(port), self._host_at.get(host)
        record = None if i is None or j is None else self.records[i * self._width + j]
        if record is None or record.protocol != protocol or record.attempts == 0:
            self.strays += 1
            return None
        state = record.state
        if state in SETTLED:
            if state is State.OPEN_FILTERED or record.reason == "no-response":
                self.late += 1
            return None
        if verdict == "requeue":
            if state is State.WAITING:
                record.state = self.table.next(record.state, "requeue")
                record.attempts -= 1
                record.sent_ns.pop()
                record.requeued += 1
                record.token += 1                        # its deadline no longer applies
                self.in_flight -= 1
                if reason == "self-connect":
                    self.self_connects += 1
                self._retries.append(record)
            return record
        self._settle(record, self.table.next(state, verdict), reason, received_ns, ttl)
        return record

    def _settle(self, record: PortRecord, state: State, reason: str, received_ns: int, ttl: int | None) -> None:
        if record.state is State.WAITING:
            self.in_flight -= 1
        record.state, record.reason, record.received_ns, record.ttl = state, reason, received_ns, ttl
        rtt = received_ns - record.sent_ns[-1]
        record.rtt_ns = rtt if rtt > 0 else 0
        self.settled += 1

    def receive_alike(self, answers: AnswersAlike) -> list[PortRecord]:
        """File many answers of one settling verdict (not ``requeue``) as :meth:`receive` files each, the
        move looked up once; returns the records they settled."""
        verdict, reason, waiting, settle = answers.verdict, answers.reason, State.WAITING, self._settle
        if verdict == "requeue":
            raise ValueError("a requeue is filed one probe at a time, with receive()")
        after = self.table.next(waiting, verdict)
        records, filed = self.records, []
        for index, received_ns in zip(answers.indices, answers.received_ns, strict=True):
            record = records[index]
            if record.state is waiting:
                settle(record, after, reason, received_ns, None)
                filed.append(record)
            else:                                     # answered twice, or after we gave up: as receive() says
                again = self.receive(Answer(record.host, record.port, record.protocol, verdict, reason, received_ns))
                if again is not None:
                    filed.append(again)
        return filed

    # -- time passing --
    def expire(self, now_ns: int) -> list[PortRecord]:
        """Attempts whose wait ran out: retried while retries remain, else settled as silent
        (``no-response``: filtered for TCP, open|filtered for UDP). Returns the records settled or
        queued for a retry (the engine closes what it held for them)."""
        touched = []
        for deadlines in self._deadlines:
            while deadlines and deadlines[0][0] <= now_ns:
                _, index, token = deadlines.popleft()
                record = self.records[index]
                if record.state is not State.WAITING or record.token != token:
                    continue
                self.in_flight -= 1
                if record.attempts <= self.retries:
                    record.state = self.table.next(record.state, "retry")
                    self._retries.append(record)
                else:
                    record.state = self.table.next(record.state, "silent")
                    record.reason = "no-response"
                    self.settled += 1
                touched.append(record)
        return touched

    def finish(self) -> list[PortRecord]:
        """End the scan now: records probed but not settled become silent; never-probed ones stay QUEUED."""
        given_up = []
        for record in self.records:
            if record.state in (State.WAITING, State.QUEUED) and record.attempts:
                record.state = self.table.next(record.state, "silent")
                record.reason = "no-response"
                self.settled += 1
                given_up.append(record)
        self._retries.clear()
        self._fresh.clear()
        for deadlines in self._deadlines:
            deadlines.clear()
        self.in_flight = 0
        return given_up

    def next_deadline(self) -> int | None:
        return min((deadlines[0][0] for deadlines in self._deadlines if deadlines), default=None)

    @property
    def done(self) -> bool:
        return self.settled == len(self.records)

    def result(self, spec: str, mechanism: str, elapsed_ns: int) -> ScanResult:
        return ScanResult(spec, (self.scan,), mechanism, list(self.records), elapsed_ns, [], self.self_connects,
                          self.late, self.strays, self.hosts)


def combine(results: Sequence[ScanResult]) -> ScanResult:
    """One result from scans of the same targets by several scan types (``-sS -sU``): every record,
    TCP before UDP; times add up."""
    if not results:
        raise InputError("nothing to combine")
    if len(results) == 1:
        return results[0]
    first = results[0]
    hosts = tuple(dict.fromkeys(h for r in results for h in r.hosts))
    return ScanResult(first.spec, tuple(s for r in results for s in r.scans),
                      "+".join(r.mechanism for r in results), [rec for r in results for rec in r.records],
                      sum(r.elapsed_ns for r in results), [n for r in results for n in r.notes],
                      sum(r.self_connects for r in results), sum(r.late for r in results),
                      sum(r.strays for r in results), hosts, first.started,
                      {k: v for r in results for k, v in r.names.items()})
