"""The sockets and the clock around a port scan's bookkeeping (``netstudy.portscan.core.ScanTable``).

One loop drives every scan type: it asks the table for the next probe (at ``rate`` probes a second when
one is set, and never more in flight than the scan type allows), hands it to the scan's driver, files
every answer, and tells the table the time so that silent ports are retried and finally settled.

- ``connect`` (``-sT``, no privilege): a non-blocking ``connect()`` per port, waited on with
  ``selectors``; at most ``parallel`` sockets open at once, fewer if ``RLIMIT_NOFILE`` says so. A
  socket that connected to itself (source port = target port on this host: TCP simultaneous open,
  RFC 9293 §3.5) is not an open port: it is closed and the probe sent again from another port.
- ``syn`` (``-sS``, root or CAP_NET_RAW): SYN segments built by ``netstudy.wire`` and written on a raw
  socket (``netstudy.net.RawIPv4Socket``), answers (SYN/ACK, RST) read a block at a time from a
  TPACKET_V3 ring on the interface the route crosses (``netstudy.net.packet``, as nmap's libpcap), or
  (``mechanism="raw"``, or no ring) one at a time from a raw TCP socket; ICMP unreachables from a raw
  ICMP socket; matched by our source port and ISN.
- ``udp`` (``-sU``): with a raw socket (``mechanism="raw"``), datagrams built by ``netstudy.wire``,
  answers read from raw UDP and ICMP sockets; without privilege (``"datagram"``), a connected UDP
  socket per port whose ICMP errors come back as ``ECONNREFUSED`` and through ``IP_RECVERR``.

A TCP scan of SPLIT_FROM probes or more is split across worker processes, one per usable core
(``workers``; :mod:`netstudy.portscan.workers`): each runs this same loop, with its own sockets and its
own table, over the shares of the ports it takes (SHARE records each, the next one as soon as the last
is all sent: all finish together), at ``rate / workers``; the parent files the records they send in
:attr:`PortScan.columns`. On a host of its own, a scan is bound by CPU (most of it the kernel's work in
``connect()`` / ``sendto()``), so each core is a worker's.

``portscan("127.0.0.1", "1-1024")`` is a plain synchronous call (fine inside Jupyter);
``PortScan(...).run()`` yields each record as it settles; ``progress()`` only which settled (the CLI's
progress bar: a split scan makes no record per closed port);
``await portscan_async(...)`` runs it on a worker thread; ``banners=True``: what open TCP services say
first (:mod:`netstudy.portscan.banners`).
"""
from __future__ import annotations

import copy
import functools
import signal
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from netstudy.errors import InputError, PrivilegeError, check_number
from netstudy.portscan.banners import grab_banners
from netstudy.portscan.columns import RecordColumns
from netstudy.portscan.core import (
    SCAN_FLAG,
    SCAN_PROTOCOL,
    SETTLED,
    AnswersAlike,
    PortRecord,
    ScanResult,
    ScanTable,
    State,
    combine,
)
from netstudy.portscan.drivers import Connect, Driver, descriptor_budget, is_local
from netstudy.portscan.services import services
from netstudy.portscan.spec import expand_targets, parse_ports
from netstudy.portscan.workers import Outbox, Packer, Shares, Workers, share_bounds, unpack, usable_cores

DEFAULT_PARALLEL = {"connect": 1024, "syn": 4096, "udp": 256}
DEFAULT_RATE = {"connect": None, "syn": None, "udp": 500.0}        # probes a second; None: no pacing
DEFAULT_RETRIES = {"connect": 1, "syn": 1, "udp": 2}
MIN_UDP_RATE = 25.0
NAME_ALL_UP_TO = 2000
MAX_RATE = 1_000_000           # probes a second
MAX_TIMEOUT = 3600.0           # seconds a probe may wait
MAX_RETRIES = 10               # attempts after the first (nmap's --max-retries default)
MAX_PARALLEL = 65536           # probes in flight
MAX_WORKERS = 64               # processes
SPLIT_FROM = 4096              # probes: a TCP scan this long is split across the cores (workers=None)
SHARE = 512                    # records in a share of a split scan's ports (a worker takes one at a time)
BATCH = 1024                   # records a worker sends at once...
BATCH_NS = 100_000_000         # ...or after this long (the progress bar moves)
PACE_SLACK_NS = 2_000_000      # how far behind its pace a paced scan may fall before it stops catching up
COUNTED = ("self_connects", "late", "strays")     # what each worker's table counts, added up


def resolve_targets(targets: str | Iterable[str]) -> tuple[list[str], dict[str, str]]:
    """The IPv4 addresses to scan, and the names they were given as (``{address: name}``).
    :class:`InputError` for a name that does not resolve."""
    addresses: dict[str, None] = {}
    names: dict[str, str] = {}
    for item in expand_targets(targets):
        if any(c.isalpha() for c in item) or not item.replace(".", "").isdigit():
            # imported here: netstudy.net is slow to import, and only names need it
            from netstudy.net import resolve
            _, address = resolve(item, 4)
            names[address] = item
        else:
            address = item
        addresses[address] = None
    return list(addresses), names


# -- the loop ------------------------------------------------------------------------------------------
class PortScan:
    """One scan type over ``targets`` × ``ports``.

    ``targets``: a host name, an address, a CIDR (at most a /16), or a list; ``ports``: an nmap port
    spec (``"1-1024"``, ``"U:53,T:80"``), a list of numbers, or None with ``top_ports``; ``scan``:
    ``connect``, ``syn`` or ``udp``; ``rate``: probes a second (None: as fast as ``parallel`` allows;
    UDP: 500); ``timeout``: seconds the first attempt waits, each retry ``backoff`` times longer;
    ``mechanism`` (UDP): ``auto`` (raw if privileged, else ``datagram``), ``raw`` or ``datagram``; (SYN):
    ``auto`` (answers read from a packet ring, else from a raw socket) or ``raw`` (a raw socket, one read each);
    ``workers``: processes that share the ports (None: one per usable core for a TCP scan of at least
    SPLIT_FROM probes, else one), each with its own sockets, ``rate`` / ``workers`` and ``parallel`` /
    ``workers``, taking the ports a share at a time; their records are filed in :attr:`columns`
    (:mod:`netstudy.portscan.workers`, :mod:`netstudy.portscan.columns`).
    A value that cannot be used raises :class:`InputError`; a missing privilege :class:`PrivilegeError`
    saying what is needed and what works instead."""

    def __init__(self, targets: str | Iterable[str] = "127.0.0.1", ports: str | Sequence[int] | None = None, *,
                 scan: str = "connect", top_ports: int | None = None, rate: float | None = None,
                 timeout: float = 1.0, retries: int | None = None, backoff: float = 1.5,
                 parallel: int | None = None, mechanism: str = "auto", workers: int | None = None) -> None:
        if scan not in SCAN_PROTOCOL:
            raise InputError(f"scan must be connect, syn or udp, not {scan!r}")
        protocol = SCAN_PROTOCOL[scan]
        self.scan, self.protocol = scan, protocol
        self.spec = targets if isinstance(targets, str) else " ".join(targets)
        self.services = services()
        self.port_list = self._ports(ports, top_ports)
        if not self.port_list:
            raise InputError(f"the port spec names no {protocol.upper()} port for a {SCAN_FLAG[scan]} scan")
        self.rate = DEFAULT_RATE[scan] if rate is None else rate
        if self.rate is not None:
            check_number("rate", self.rate, 0, MAX_RATE, above=True)
        check_number("timeout", timeout, 0, MAX_TIMEOUT, above=True)
        if retries is not None:
            check_number("retries", retries, 0, MAX_RETRIES, whole=True)
        if parallel is not None:
            check_number("parallel", parallel, 1, MAX_PARALLEL, whole=True)
        if mechanism not in ("auto", "raw", "datagram"):
            raise InputError(f"mechanism must be auto, raw or datagram, not {mechanism!r}")
        if workers is not None:
            check_number("workers", workers, 1, MAX_WORKERS, whole=True)
        self.hosts, self.names = resolve_targets(targets)
        self.retries = DEFAULT_RETRIES[scan] if retries is None else retries
        self.options: dict[str, Any] = {"timeout": timeout, "retries": self.retries, "backoff": backoff,
                                        "parallel": parallel, "mechanism": mechanism}
        if backoff < 1:
            raise InputError(f"backoff must be at least 1, not {backoff:g}")
        self.total = len(self.port_list) * len(self.hosts)          # records the scan settles
        if workers is None:
            workers = usable_cores() if scan != "udp" and self.total >= SPLIT_FROM else 1
        self.workers = min(workers, len(self.port_list))
        self.driver: Driver | None = None
        self.pool: Workers | None = None
        self._table: ScanTable | None = None
        self.columns: RecordColumns | None = None       # a split scan's records, filed as its workers send them
        self._take: Callable[[], Sequence[int] | None] | None = None     # a worker's next share of ports
        self._counts: Counter[str] = Counter()          # ... and its workers' counts
        if self.workers == 1:
            self.driver = self._driver(scan, parallel or DEFAULT_PARALLEL[scan], mechanism)
            self.mechanism = self.driver.mechanism
        else:                        # each worker opens its own sockets; the first to finish says which
            self.mechanism = {"connect": "connect", "syn": "raw"}.get(scan, "datagram" if mechanism == "datagram"
                                                                     else "raw")
            if scan != "connect":    # imported once, here, not by every worker (a tenth of a second each)
                import netstudy.portscan.packet_drivers  # noqa: F401
        self.slowed: list[float] = []
        self.stopping = False
        self._start_ns = self._end_ns = 0
        self.started = ""

    def _driver(self, scan: str, wanted: int, mechanism: str) -> Driver:
        if wanted < 1:
            raise InputError(f"parallel must be at least 1, not {wanted}")
        if scan == "connect":
            return Connect(wanted)
        # imported here: they need netstudy.net and netstudy.wire, a connect scan never does
        from netstudy.portscan.packet_drivers import Syn, UdpDatagram, UdpRaw
        if scan == "syn":
            return Syn(self.hosts, self.port_list, wanted, ring=mechanism != "raw")
        if mechanism == "datagram":
            return UdpDatagram(wanted)
        try:
            return UdpRaw(self.hosts, self.port_list, wanted)
        except PrivilegeError:
            if mechanism == "raw":
                raise
            return UdpDatagram(wanted)

    def _ports(self, ports: str | Sequence[int] | None, top_ports: int | None) -> list[int]:
        if top_ports is not None:
            chosen = list(self.services.top(top_ports, self.protocol))
            if ports is None:
                return sorted(chosen)
            allowed = set(self._ports(ports, None))
            return sorted(p for p in chosen if p in allowed)
        if ports is None:
            ports = "1-1000"
        if isinstance(ports, str):
            return list(parse_ports(ports).for_protocol(self.protocol))
        numbers = [int(p) for p in ports]
        bad = [p for p in numbers if not 1 <= p <= 65535]
        if bad:
            raise InputError(f"port {bad[0]} is out of range 1-65535")
        return list(dict.fromkeys(numbers))

    def close(self) -> None:
        if self.driver is not None:
            self.driver.close()
        if self.pool is not None:
            self.pool.close()

    def __enter__(self) -> PortScan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def table(self) -> ScanTable:
        """The scan's records and their bookkeeping, in this process (a split scan's workers each keep
        their own; its records are :attr:`columns`)."""
        if self._table is None:
            if self.driver is None:
                raise RuntimeError("a split scan keeps no table in this process: read its result()")
            self._table = self._new_table(self.port_list)
        return self._table

    def _new_table(self, ports: Sequence[int]) -> ScanTable:
        return ScanTable(self.hosts, ports, self.scan, retries=self.retries,
                         timeout_ns=int(self.options["timeout"] * 1e9), backoff=self.options["backoff"])

    def run(self) -> Iterator[PortRecord]:
        """Probe every port, yielding each record as it settles (from the workers as they send them)."""
        self._begin()
        if self.driver is not None:
            return (record for step in self._run_here(self.driver) for record in step)
        columns = self.columns = self._new_columns()
        return (columns[index] for settled in self._run_split() for index in settled)

    def progress(self) -> Iterator[Sequence[int]]:
        """Probe every port, yielding the indices of the records settled at each step (a split scan's:
        a worker's batch, with no record made for them: :attr:`columns` makes them when read)."""
        self._begin()
        if self.driver is not None:
            return ([record.index for record in step] for step in self._run_here(self.driver))
        self.columns = self._new_columns()
        return self._run_split()

    def _begin(self) -> None:
        self.started = time.strftime("%Y-%m-%d %H:%M %Z")
        self._start_ns = time.perf_counter_ns()

    def _new_columns(self) -> RecordColumns:
        return RecordColumns(self.hosts, self.port_list, self.protocol, self.services.name,
                             name_closed=self.total <= NAME_ALL_UP_TO)

    def stop(self) -> None:
        """Make :meth:`run` return at its next turn (safe in a signal handler); then :meth:`interrupt`."""
        self.stopping = True

    def _run_here(self, driver: Driver) -> Iterator[list[PortRecord]]:
        """The loop, in this process: the records settled at each turn, a list a turn."""
        perf, table = time.perf_counter_ns, self.table
        next_probe, receive, send, forget = table.send, table.receive, driver.send, driver.forget   # the hot path
        next_probes, send_many, settled, closed = table.send_many, driver.send_many, SETTLED, State.CLOSED
        receive_alike = table.receive_alike
        udp = self.protocol == "udp"
        next_send = self._start_ns
        late_answers = 0
        try:
            while not self.stopping and (not table.done or self._take_more(table)):
                now = perf()
                done: list[PortRecord] = []
                for record in table.expire(now):
                    driver.forget(record)
                    if record.state in settled:
                        done.append(self._settle(record))
                step = 0 if self.rate is None else int(1e9 / self.rate)
                room = driver.capacity()
                while not step and room > 0:                # unpaced: as many as there is room for
                    probes = next_probes(now, room)
                    if not probes:
                        if self._take_more(table):
                            continue
                        break
                    send_many(probes)
                    room -= len(probes)
                while step and room > 0 and now >= next_send:
                    probe = next_probe(now)
                    if probe is None:
                        if self._take_more(table):
                            continue
                        break
                    send(probe)
                    room -= 1
                    # keep the pace; behind it (the selector sleeps whole milliseconds), catch up by at
                    # most PACE_SLACK_NS of probes at once
                    next_send = max(next_send + step, now - max(step, PACE_SLACK_NS))
                    now = perf()
                if not table.done:                          # else another share, or the end
                    if table.has_due and driver.capacity() > 0:
                        wakes = [next_send, table.next_deadline() or next_send]
                    else:
                        wakes = [w for w in (table.next_deadline(),) if w is not None]
                    wait = max(min(wakes) - perf(), 0) / 1e9 if wakes else 0.05
                    for answer in driver.poll(min(wait, 0.2)):
                        if isinstance(answer, AnswersAlike):    # a connect scan's refused ports: nothing held for them
                            done += receive_alike(answer)
                            continue
                        answered = receive(answer)
                        if answered is None:
                            continue
                        record = answered
                        forget(record)
                        if record.state in settled:
                            if udp and record.attempts > 1 and record.reason == "port-unreach":
                                late_answers += 1
                                self._slow_down(late_answers)
                            done.append(record if record.state is closed else self._settle(record))
                if done:
                    yield done
        finally:
            self._end_ns = perf()

    def _slow_down(self, late_answers: int) -> None:
        """A UDP port answered only a retry: the target's ICMP rate limit ate the first answer, most
        likely. Halve the pace (not below MIN_UDP_RATE), at most once per 10 such ports."""
        if self.rate is not None and late_answers % 10 == 1 and self.rate > MIN_UDP_RATE:
            self.rate = max(self.rate / 2, MIN_UDP_RATE)
            self.slowed.append(self.rate)

    def _settle(self, record: PortRecord) -> PortRecord:
        if record.state is not State.CLOSED:          # closed ports are named in result(), if few
            record.service = self.services.name(record.port, record.protocol)
        return record

    # -- split across worker processes --
    def _run_split(self) -> Iterator[Sequence[int]]:
        bounds = share_bounds(len(self.port_list), self.workers, max(SHARE // len(self.hosts), 1))
        shares = Shares(len(bounds))
        try:
            self.pool = Workers(functools.partial(self._work, shares=shares, bounds=bounds), self.workers)
        finally:
            shares.close()
        try:
            while self.pool.running:
                for number, message in self.pool.messages(0.2):
                    settled = self._file(number, message)
                    if settled:
                        yield settled
        finally:
            self._end_ns = time.perf_counter_ns()

    def _work(self, number: int, outbox: Outbox, shares: Shares, bounds: list[tuple[int, int]]) -> None:
        """One worker (in its own process): this scan over the shares of the ports it takes, one after
        another as it runs out of ports to probe, the records sent back in batches as they settle
        (numbered as in the whole scan), then the rest (never probed, or given up at a stop) and the counts."""
        places = array("l")                     # where the worker's ports are in the whole scan's

        def take() -> Sequence[int] | None:
            share = shares.take()
            if share is None:
                return None
            start, stop = bounds[share]
            places.extend(range(start, stop))
            return self.port_list[start:stop]

        with self._part(self.workers) as scan:
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: scan.stop())
            if Workers.stop_requested:
                scan.stop()
            batch = Packer(len(self.hosts), places)
            if scan.take_shares(take):
                assert scan.driver is not None
                scan._begin()
                flushed = time.perf_counter_ns()
                for step in scan._run_here(scan.driver):
                    batch.extend(step)
                    if len(batch) >= BATCH or time.perf_counter_ns() - flushed > BATCH_NS:
                        outbox.send(batch.message())
                        flushed = time.perf_counter_ns()
                for record in scan.interrupt() if scan.stopping else []:
                    batch.add(record)
                for record in scan.table.records:
                    if record.state is State.QUEUED:
                        batch.add(record)
                outbox.send(batch.message())
            counts = {key: getattr(scan.table, key) for key in COUNTED} if scan._table else {}
            outbox.send(("done", {"mechanism": scan.mechanism, "slowed": scan.slowed, "counts": counts}))
            outbox.close()      # all sent: the parent goes on while the sockets close (a packet ring's
                                # close waits for an RCU grace period, packet(7): tens of ms)

    def _part(self, count: int) -> PortScan:
        """This scan as one of ``count`` workers runs it in its own process: the targets, ports and options
        checked already, its own driver (for every port: a SYN scan's held source port must be none of
        them, whichever it scans), ``parallel`` / ``count`` probes in flight at ``rate`` / ``count``."""
        part = copy.copy(self)
        part.workers, part.pool, part.columns, part._table, part._take = 1, None, None, None, None
        part.slowed, part._counts, part.stopping = [], Counter(), False
        part.rate = None if self.rate is None else self.rate / count
        part.options = dict(self.options,
                            parallel=max((self.options["parallel"] or DEFAULT_PARALLEL[self.scan]) // count, 1))
        part.driver = part._driver(self.scan, part.options["parallel"], self.options["mechanism"])
        part.mechanism = part.driver.mechanism
        return part

    def take_shares(self, take: Callable[[], Sequence[int] | None]) -> bool:
        """Scan the ports that ``take()`` gives (None: no more), a share at a time: the next is taken when
        every probe of the last has been sent, while their answers are still awaited. False if none came."""
        first = take()
        if first is None:
            return False
        self._table = self._new_table(first)
        self._take = take
        return True

    def _take_more(self, table: ScanTable) -> bool:
        """Another share of ports added to ``table``; False when there is none (or none to take)."""
        if self._take is not None:
            more = self._take()
            if more:
                table.add_ports(more)
                return True
            self._take = None
        return False

    def _file(self, number: int, message: tuple[Any, ...]) -> list[int]:
        """A worker's message taken in: its records filed in :attr:`columns` (the indices of the settled
        ones returned), its counts added up, its error raised here."""
        kind, payload = message[:2]
        if kind == "error":
            raise payload
        if kind == "done":
            self.mechanism = payload["mechanism"]
            self.slowed += [rate * self.workers for rate in payload["slowed"]]    # a worker's pace, times their count
            self._counts.update(payload["counts"])
            return []
        assert self.columns is not None
        return unpack(message, self.columns)

    def interrupt(self) -> list[PortRecord]:
        """Stop now (Ctrl-C): ports probed but not answered become silent, the others are dropped. Returns
        the records given up (a split scan's workers give up their own: the records they send last)."""
        if self.pool is None:
            return self.table.finish()
        self.pool.stop()
        given_up: list[int] = []
        deadline = time.monotonic() + 2.0
        while self.pool.running and time.monotonic() < deadline:
            for number, message in self.pool.messages(0.1):
                given_up += self._file(number, message)
        self.pool.close()
        assert self.columns is not None
        return [record for record in map(self.columns.__getitem__, given_up) if record.reason == "no-response"]

    @property
    def elapsed_ns(self) -> int:
        return (self._end_ns or time.perf_counter_ns()) - self._start_ns if self._start_ns else 0

    def notes(self) -> list[str]:
        """What the reader of the result should know: self-connects avoided, UDP's limits."""
        notes = []
        self_connects = self.table.self_connects if self.columns is None else self._counts["self_connects"]
        if self_connects:
            notes.append(f"{self_connects} connect(s) reached their own socket (source port = target "
                         f"port, TCP simultaneous open) and were sent again from another port: not open ports")
        if self.protocol == "udp":
            retried = sum(1 for r in self.table.records if r.attempts > 1 and r.state is not State.OPEN_FILTERED)
            silent = sum(1 for r in self.table.records if r.state is State.OPEN_FILTERED)
            text = (f"UDP: {silent} port(s) stayed silent after {self.table.retries + 1} probes (open|filtered: an "
                    f"open port that ignores the probe and a firewall that drops it look the same); "
                    f"{retried} answered only a retry")
            local = [h for h in self.hosts if is_local(h)]
            limit = _icmp_limits()
            if local and limit:
                text += (f"; this host's kernel sends at most {limit[0]} ICMP errors a second (burst {limit[1]}; "
                         f"net.ipv4.icmp_msgs_per_sec / icmp_msgs_burst)")
            else:
                text += ("; the target's kernel may rate-limit ICMP port unreachable (Linux: about 1 a second per "
                         "source, net.ipv4.icmp_ratelimit), which turns closed ports silent")
            pace = f"{self.slowed[-1]:g}/s (slowed down {len(self.slowed)} time(s))" if self.slowed else \
                f"{self.rate:g}/s" if self.rate else "unpaced"
            notes.append(f"{text}; probes paced at {pace}")
        return notes

    def result(self) -> ScanResult:
        """What the scan found so far. Every record gets its service name, except closed ports in a scan
        of more than NAME_ALL_UP_TO records (a full range: 65,000 names nobody reads). A split scan's
        records are its :attr:`columns` (each made a :class:`PortRecord`, and named, when read)."""
        if self.columns is not None:
            result = ScanResult(self.spec, (self.scan,), self.mechanism, self.columns, self.elapsed_ns,
                                self_connects=self._counts["self_connects"], late=self._counts["late"],
                                strays=self._counts["strays"], hosts=tuple(self.hosts))
        else:
            few = len(self.table.records) <= NAME_ALL_UP_TO
            for record in self.table.records:
                if not record.service and (few or record.state is not State.CLOSED):
                    record.service = self.services.name(record.port, record.protocol)
            result = self.table.result(self.spec, self.mechanism, self.elapsed_ns)
        result.notes = self.notes()
        result.started = self.started
        result.names = dict(self.names)
        return result


def _icmp_limits() -> tuple[int, int] | None:
    """This host's global ICMP error limit (``icmp_msgs_per_sec``, ``icmp_msgs_burst``), if readable."""
    try:
        values = [int(Path(f"/proc/sys/net/ipv4/{key}").read_text())
                  for key in ("icmp_msgs_per_sec", "icmp_msgs_burst")]
    except (OSError, ValueError):
        return None
    return values[0], values[1]


def portscan(targets: str | Iterable[str] = "127.0.0.1", ports: str | Sequence[int] | None = None, *,
             scans: str | Sequence[str] = "connect", banners: bool = False, banner_timeout: float = 2.0,
             **options: Any) -> ScanResult:
    """Scan ``ports`` of ``targets`` with each scan type in ``scans`` (``"connect"``, ``"syn"``,
    ``"udp"``, or several: ``("syn", "udp")``) and return one :class:`ScanResult`; ``options`` go to
    :class:`PortScan`. ``banners``: read what each open TCP service says first (:func:`grab_banners`)."""
    kinds = [scans] if isinstance(scans, str) else list(scans)
    results = []
    for kind in kinds:
        with PortScan(targets, ports, scan=kind, **options) as scan:
            for _ in scan.progress():
                pass
            results.append(scan.result())
    result = combine(results)
    if banners:
        grab_banners(result.records, banner_timeout)
    return result


async def portscan_async(targets: str | Iterable[str] = "127.0.0.1", ports: str | Sequence[int] | None = None,
                         **options: Any) -> ScanResult:
    """:func:`portscan` to ``await``: the same loop on a worker thread."""
    # asyncio imported here: the CLI never needs it, and it takes long to import
    import asyncio
    return await asyncio.to_thread(portscan, targets, ports, **options)


__all__ = ["PortScan", "portscan", "portscan_async", "descriptor_budget", "resolve_targets", "capture"]


# -- watching the wire ---------------------------------------------------------------------------------
def capture(action: Any, ports: Iterable[int], protocol: int = 6) -> tuple[Any, list[tuple[int, bytes]]]:
    """Run ``action()`` while a raw socket of ``protocol`` (6 TCP, 17 UDP, 1 ICMP) copies every datagram
    this host receives; return its value and ``(perf_counter_ns, datagram)`` for those whose source or
    destination port is in ``ports`` (for ICMP: every message). On loopback a host receives what it sends,
    so both directions are there. Needs root or CAP_NET_RAW (:class:`PrivilegeError` otherwise)."""
    # imported here: a notebook's tool, and netstudy.net is slow to import
    from netstudy.net import RawIPv4Socket
    wanted = set(ports)
    kept: list[tuple[int, bytes]] = []
    with RawIPv4Socket(protocol, "watching the wire", "the notebook reads a recorded capture instead") as raw:
        value = action()
        deadline = time.monotonic() + 0.2
        while time.monotonic() < deadline:
            read = raw.read_into()
            if read is None:
                time.sleep(0.01)
                continue
            data = bytes(read[0][:read[1]])
            header = (data[0] & 0xF) * 4
            if protocol == 1 or (len(data) >= header + 4 and (int.from_bytes(data[header:header + 2], "big") in wanted
                                                             or int.from_bytes(data[header + 2:header + 4], "big")
                                                             in wanted)):
                kept.append((read[2], data))
    return value, kept
