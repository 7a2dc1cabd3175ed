"""The sockets and the clock around a port scan's bookkeeping (``netstudy.portscan.core.ScanTable``).

One loop drives every scan type: it asks the table for the next probe (at ``rate`` probes a second when
one is set, and never more in flight than the scan type allows), hands it to the scan's driver, files
every answer, and tells the table the time so that silent ports are retried and finally settled.

- ``connect`` (``-sT``, no privilege): a non-blocking ``connect()`` per port, waited on with
  ``selectors``; at most ``parallel`` sockets open at once, fewer if ``RLIMIT_NOFILE`` says so. A
  socket that connected to itself (source port = target port on this host: TCP simultaneous open,
  RFC 9293 §3.5) is not an open port: it is closed and the probe sent again from another port.
- ``syn`` (``-sS``, root or CAP_NET_RAW): SYN segments built by ``netstudy.wire`` and written on a raw
  socket (``netstudy.net.RawIPv4Socket``), answers (SYN/ACK, RST) read from a raw TCP socket and ICMP
  unreachables from a raw ICMP socket, matched by our source port and ISN.
- ``udp`` (``-sU``): with a raw socket (``mechanism="raw"``), datagrams built by ``netstudy.wire``,
  answers read from raw UDP and ICMP sockets; without privilege (``"datagram"``), a connected UDP
  socket per port whose ICMP errors come back as ``ECONNREFUSED`` and through ``IP_RECVERR``.

``portscan("127.0.0.1", "1-1024")`` is a plain synchronous call (fine inside Jupyter);
``PortScan(...).run()`` yields each record as it settles (what the CLI's progress bar counts);
``await portscan_async(...)`` runs it on a worker thread; :func:`grab_banners` reads what open TCP
services say first.
"""
from __future__ import annotations

import _socket
import asyncio
import contextlib
import errno
import os
import random
import resource
import selectors
import socket
import struct
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from netstudy.errors import InputError, PrivilegeError
from netstudy.net import IcmpSocket, RawIPv4Socket, resolve, source_address
from netstudy.portscan.core import (
    SCAN_FLAG,
    SCAN_PROTOCOL,
    SETTLED,
    Answer,
    PortRecord,
    Probe,
    ScanResult,
    ScanTable,
    State,
    combine,
    connect_verdict,
    expand_targets,
    icmp_verdict,
    parse_ports,
)
from netstudy.portscan.packets import (
    SynTemplate,
    read_icmp_answer,
    read_tcp_answer,
    read_udp_answer,
    udp_payload,
    udp_probe,
)
from netstudy.portscan.services import services
from netstudy.wire.echo import IP_RECVERR, ProbeError, read_ancillary, read_error_queue

DEFAULT_PARALLEL = {"connect": 1024, "syn": 4096, "udp": 256}
DEFAULT_RATE = {"connect": None, "syn": None, "udp": 500.0}        # probes a second; None: no pacing
DEFAULT_RETRIES = {"connect": 1, "syn": 1, "udp": 2}
MIN_UDP_RATE = 25.0
MAX_RATE = 1_000_000
HTTP_PORTS = frozenset({80, 8000, 8008, 8080, 8088, 8888})
FD_MARGIN = 64                       # descriptors kept back for everything else the process holds
_LINGER_ZERO = struct.pack("ii", 1, 0)   # close() sends a RST, not a FIN: no TIME_WAIT for a knock
_NONBLOCKING_STREAM = socket.SOCK_STREAM | getattr(socket, "SOCK_NONBLOCK", 0)


def descriptor_budget(wanted: int) -> int:
    """How many sockets a scan may hold open at once: ``wanted``, within ``RLIMIT_NOFILE``. The soft
    limit is raised towards the hard one first if that helps (as nmap does); what is already open and
    a margin are kept back."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        in_use = len(os.listdir("/proc/self/fd"))
    except OSError:
        in_use = 32
    need = wanted + in_use + FD_MARGIN
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    if soft == resource.RLIM_INFINITY:
        return wanted
    budget = min(wanted, soft - in_use - FD_MARGIN)
    if budget < 1:
        raise InputError(f"no file descriptors left for sockets (RLIMIT_NOFILE {soft}, {in_use} in use): "
                         f"raise it with ulimit -n")
    return budget


def resolve_targets(targets: str | Iterable[str]) -> tuple[list[str], dict[str, str]]:
    """The IPv4 addresses to scan, and the names they were given as (``{address: name}``).
    :class:`InputError` for a name that does not resolve."""
    addresses: dict[str, None] = {}
    names: dict[str, str] = {}
    for item in expand_targets(targets):
        if any(c.isalpha() for c in item) or not item.replace(".", "").isdigit():
            _, address = resolve(item, 4)
            names[address] = item
        else:
            address = item
        addresses[address] = None
    return list(addresses), names


def _is_local(address: str) -> bool:
    """Whether ``address`` is this host's (loopback, or one of its interfaces)."""
    if address.startswith("127."):
        return True
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((address, 0))
        return True
    except OSError:
        return False


def _reserve_port(kind: int, avoid: set[int]) -> socket.socket:
    """A socket bound to a free port of ``kind`` that is not in ``avoid`` (our probes' source port:
    held so that no other program gets it while we scan)."""
    for _ in range(50):
        sock = socket.socket(socket.AF_INET, kind)
        sock.bind(("0.0.0.0", 0))
        if sock.getsockname()[1] not in avoid:
            break
        sock.close()
    else:
        sock = socket.socket(socket.AF_INET, kind)      # every port is scanned: any will do
        sock.bind(("0.0.0.0", 0))
    return sock


# -- one class per scan type: open, send a probe, read what came back ---------------------------------
class _Connect:
    """A non-blocking connect() per port."""

    mechanism = "connect"

    def __init__(self, parallel: int) -> None:
        self.limit = descriptor_budget(parallel)
        self.selector = selectors.DefaultSelector()
        self.open: dict[int, Any] = {}
        self.local: list[Answer] = []

    def capacity(self) -> int:
        return self.limit - len(self.open)

    def send(self, probe: Probe) -> None:
        sock = _socket.socket(socket.AF_INET, _NONBLOCKING_STREAM)     # the C type: no Python wrapper to build
        code = sock.connect_ex((probe.host, probe.port))
        if code == errno.EINPROGRESS:
            # on loopback the RST has usually arrived before connect() returns: no need to wait for it
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) or errno.EINPROGRESS
        if code == errno.EINPROGRESS:
            self.selector.register(sock, selectors.EVENT_WRITE, probe)
            self.open[probe.index] = sock
            return
        answer = self._answer(sock, probe, code)
        sock.close()
        if answer is not None:
            self.local.append(answer)

    def _answer(self, sock: Any, probe: Probe, code: int) -> Answer | None:
        now = time.perf_counter_ns()
        if code == 0:
            try:
                if sock.getsockname() == sock.getpeername():        # connected to itself: nobody listens
                    return Answer(probe.host, probe.port, "tcp", "requeue", "self-connect", now)
            except OSError:
                pass
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
        verdict = connect_verdict(code)
        if verdict is None:
            return None
        return Answer(probe.host, probe.port, "tcp", verdict[0], verdict[1], now)

    def poll(self, timeout: float) -> list[Answer]:
        events, self.local = self.local, []
        for key, _ in self.selector.select(0 if events else timeout):
            probe: Probe = key.data
            sock: Any = key.fileobj
            answer = self._answer(sock, probe, sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
            if answer is not None:
                self._close(probe.index)
                events.append(answer)
        return events

    def _close(self, index: int) -> None:
        sock = self.open.pop(index, None)
        if sock is not None:
            self.selector.unregister(sock)
            sock.close()

    def forget(self, record: PortRecord) -> None:
        self._close(record.index)

    def close(self) -> None:
        for index in list(self.open):
            self._close(index)
        self.selector.close()


class _Syn:
    """SYNs written on a raw socket; SYN/ACK, RST and ICMP unreachables read from raw sockets."""

    mechanism = "raw"

    def __init__(self, hosts: Sequence[str], ports: Sequence[int], parallel: int) -> None:
        self.raw = RawIPv4Socket(6, "a SYN scan (-sS)", "a connect scan (-sT) works without it")
        try:
            self.icmp = IcmpSocket(4, "raw")
        except BaseException:
            self.raw.close()
            raise
        self.hold = _reserve_port(socket.SOCK_STREAM, set(ports))
        self.sport = self.hold.getsockname()[1]
        self.raw.only_to_port(self.sport)
        self.isn = random.getrandbits(32)
        self.ack = (self.isn + 1) & 0xFFFFFFFF
        self.templates = {host: SynTemplate(source_address(host), host, self.sport, self.isn) for host in hosts}
        self.limit, self.in_flight = parallel, 0
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.raw, selectors.EVENT_READ)
        self.selector.register(self.icmp, selectors.EVENT_READ)
        self.local: list[Answer] = []

    def capacity(self) -> int:
        return self.limit - self.in_flight

    def send(self, probe: Probe) -> None:
        if self.raw.send(self.templates[probe.host].probe(probe.port), probe.host):
            self.in_flight += 1
        else:                                   # the send buffer is full: this probe did not leave
            self.local.append(Answer(probe.host, probe.port, "tcp", "requeue", "no buffer", time.perf_counter_ns()))

    def poll(self, timeout: float) -> list[Answer]:
        events, self.local = self.local, []
        if not events and not self.selector.select(timeout):
            return events
        raw, sport, ack = self.raw, self.sport, self.ack
        while (read := raw.read_into()) is not None:
            answer = read_tcp_answer(read[0], read[1], sport, ack, read[2])
            if answer is not None:
                events.append(answer)
        while (event := self.icmp.read()) is not None:
            if isinstance(event, ProbeError) and (answer := read_icmp_answer(event, "tcp", sport)) is not None:
                events.append(answer)
        return events

    def forget(self, record: PortRecord) -> None:
        self.in_flight = max(self.in_flight - 1, 0)

    def close(self) -> None:
        self.selector.close()
        self.raw.close()
        self.icmp.close()
        self.hold.close()


class _UdpRaw:
    """UDP datagrams written on a raw socket; UDP answers and ICMP unreachables read from raw sockets."""

    mechanism = "raw"

    def __init__(self, hosts: Sequence[str], ports: Sequence[int], parallel: int) -> None:
        what, instead = "a raw UDP scan (-sU --mechanism raw)", "-sU --mechanism datagram and -sT work without it"
        self.raw = RawIPv4Socket(17, what, instead)
        try:
            self.icmp = IcmpSocket(4, "raw")
        except BaseException:
            self.raw.close()
            raise
        self.hold = _reserve_port(socket.SOCK_DGRAM, set(ports))     # answers land here, not in an ICMP error
        self.hold.setblocking(False)
        self.sport = self.hold.getsockname()[1]
        self.raw.only_to_port(self.sport)
        self.sources = {host: source_address(host) for host in hosts}
        self.limit, self.in_flight = parallel, 0
        self.selector = selectors.DefaultSelector()
        for sock in (self.raw, self.icmp, self.hold):
            self.selector.register(sock, selectors.EVENT_READ)
        self.local: list[Answer] = []

    def capacity(self) -> int:
        return self.limit - self.in_flight

    def send(self, probe: Probe) -> None:
        datagram = udp_probe(self.sources[probe.host], probe.host, self.sport, probe.port)
        if self.raw.send(datagram, probe.host):
            self.in_flight += 1
        else:
            self.local.append(Answer(probe.host, probe.port, "udp", "requeue", "no buffer", time.perf_counter_ns()))

    def poll(self, timeout: float) -> list[Answer]:
        events, self.local = self.local, []
        if not events and not self.selector.select(timeout):
            return events
        while (read := self.raw.read_into()) is not None:
            answer = read_udp_answer(read[0], read[1], self.sport, read[2])
            if answer is not None:
                events.append(answer)
        while (event := self.icmp.read()) is not None:
            if isinstance(event, ProbeError) and (answer := read_icmp_answer(event, "udp", self.sport)) is not None:
                events.append(answer)
        with contextlib.suppress(OSError):
            while self.hold.recv(65536) is not None:          # the answers' copies: read above, dropped here
                pass
        return events

    def forget(self, record: PortRecord) -> None:
        self.in_flight = max(self.in_flight - 1, 0)

    def close(self) -> None:
        self.selector.close()
        self.raw.close()
        self.icmp.close()
        self.hold.close()


class _UdpDatagram:
    """A connected UDP socket per port: an answer is data; an ICMP error is ``ECONNREFUSED`` (port
    unreachable) or another errno, with its type and code in the error queue (``IP_RECVERR``)."""

    mechanism = "datagram"

    def __init__(self, parallel: int) -> None:
        self.limit = descriptor_budget(parallel)
        self.selector = selectors.DefaultSelector()
        self.open: dict[int, socket.socket] = {}
        self.local: list[Answer] = []

    def capacity(self) -> int:
        return self.limit - len(self.open)

    def send(self, probe: Probe) -> None:
        old = self.open.pop(probe.index, None)
        if old is not None:
            self.selector.unregister(old)
            old.close()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
        try:
            sock.connect((probe.host, probe.port))
            sock.send(udp_payload(probe.port))
        except OSError as exc:
            sock.close()
            code = exc.errno or 0
            verdict = ("closed", "port-unreach") if code == errno.ECONNREFUSED else connect_verdict(code)
            if verdict is not None:
                self.local.append(Answer(probe.host, probe.port, "udp", verdict[0], verdict[1],
                                         time.perf_counter_ns()))
            return
        self.selector.register(sock, selectors.EVENT_READ, probe)
        self.open[probe.index] = sock

    def _read(self, sock: socket.socket, probe: Probe) -> Answer | None:
        now = time.perf_counter_ns()
        try:
            data, ancdata, _, address = sock.recvmsg(512, 512, socket.MSG_ERRQUEUE)
        except (BlockingIOError, InterruptedError):
            pass
        else:
            _, error = read_ancillary(ancdata)
            if error is not None:
                event = read_error_queue(data, error, (probe.host, probe.port), None, 4, now, "udp")
                if event is not None:
                    verdict = icmp_verdict("udp", event.icmp_type, event.icmp_code)
                    if verdict is not None:
                        return Answer(probe.host, probe.port, "udp", verdict[0], verdict[1], now)
                return None
        try:
            sock.recv(65536)
        except ConnectionRefusedError:
            return Answer(probe.host, probe.port, "udp", "closed", "port-unreach", now)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            verdict = connect_verdict(exc.errno or 0)
            return None if verdict is None else Answer(probe.host, probe.port, "udp", verdict[0], verdict[1], now)
        return Answer(probe.host, probe.port, "udp", "open", "udp-response", now)

    def poll(self, timeout: float) -> list[Answer]:
        events, self.local = self.local, []
        for key, _ in self.selector.select(0 if events else timeout):
            answer = self._read(key.fileobj, key.data)  # type: ignore[arg-type]  # always our sockets
            if answer is not None:
                events.append(answer)
        return events

    def forget(self, record: PortRecord) -> None:
        sock = self.open.pop(record.index, None)
        if sock is not None:
            self.selector.unregister(sock)
            sock.close()

    def close(self) -> None:
        for sock in self.open.values():
            self.selector.unregister(sock)
            sock.close()
        self.open.clear()
        self.selector.close()


Driver = _Connect | _Syn | _UdpRaw | _UdpDatagram


# -- the loop ------------------------------------------------------------------------------------------
class PortScan:
    """One scan type over ``targets`` × ``ports``.

    ``targets``: a host name, an address, a CIDR (at most a /16), or a list; ``ports``: an nmap port
    spec (``"1-1024"``, ``"U:53,T:80"``), a list of numbers, or None with ``top_ports``; ``scan``:
    ``connect``, ``syn`` or ``udp``; ``rate``: probes a second (None: as fast as ``parallel`` allows;
    UDP: 500); ``timeout``: seconds the first attempt waits, each retry ``backoff`` times longer;
    ``mechanism`` (UDP): ``auto`` (raw if privileged, else ``datagram``), ``raw`` or ``datagram``.
    A value that cannot be used raises :class:`InputError`; a missing privilege :class:`PrivilegeError`
    saying what is needed and what works instead."""

    def __init__(self, targets: str | Iterable[str] = "127.0.0.1", ports: str | Sequence[int] | None = None, *,
                 scan: str = "connect", top_ports: int | None = None, rate: float | None = None,
                 timeout: float = 1.0, retries: int | None = None, backoff: float = 1.5,
                 parallel: int | None = None, mechanism: str = "auto") -> None:
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
        if self.rate is not None and not 0 < self.rate <= MAX_RATE:
            raise InputError(f"rate {self.rate:g} is out of range: 0 < rate <= {MAX_RATE} probes a second")
        if mechanism not in ("auto", "raw", "datagram"):
            raise InputError(f"mechanism must be auto, raw or datagram, not {mechanism!r}")
        self.hosts, self.names = resolve_targets(targets)
        self.table = ScanTable(self.hosts, self.port_list, scan, timeout_ns=int(timeout * 1e9),
                               retries=DEFAULT_RETRIES[scan] if retries is None else retries, backoff=backoff)
        wanted = parallel or DEFAULT_PARALLEL[scan]
        if wanted < 1:
            raise InputError(f"parallel must be at least 1, not {wanted}")
        self.driver: Driver
        if scan == "connect":
            self.driver = _Connect(wanted)
        elif scan == "syn":
            self.driver = _Syn(self.hosts, self.port_list, wanted)
        elif mechanism == "datagram":
            self.driver = _UdpDatagram(wanted)
        else:
            try:
                self.driver = _UdpRaw(self.hosts, self.port_list, wanted)
            except PrivilegeError:
                if mechanism == "raw":
                    raise
                self.driver = _UdpDatagram(wanted)
        self.mechanism = self.driver.mechanism
        self.slowed: list[float] = []
        self._start_ns = self._end_ns = 0
        self.started = ""

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
        self.driver.close()

    def __enter__(self) -> PortScan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self) -> Iterator[PortRecord]:
        """Probe every port, yielding each record as it settles."""
        perf, table, driver = time.perf_counter_ns, self.table, self.driver
        self.started = time.strftime("%Y-%m-%d %H:%M %Z")
        start = self._start_ns = perf()
        next_send = start
        late_answers = 0
        try:
            while not table.done:
                now = perf()
                for record in table.expire(now):
                    driver.forget(record)
                    if record.state in SETTLED:
                        yield self._settle(record)
                step = 0 if self.rate is None else int(1e9 / self.rate)
                room = driver.capacity()
                while room > 0 and table.has_due and now >= next_send:
                    probe = table.send(now)
                    if probe is None:
                        break
                    driver.send(probe)
                    room -= 1
                    if step:
                        next_send = max(next_send + step, now - step)     # keep the pace, no burst to catch up
                        now = perf()
                if table.done:
                    break
                if table.has_due and driver.capacity() > 0:
                    wakes = [next_send, table.next_deadline() or next_send]
                else:
                    wakes = [w for w in (table.next_deadline(),) if w is not None]
                wait = max(min(wakes) - perf(), 0) / 1e9 if wakes else 0.05
                for answer in driver.poll(min(wait, 0.2)):
                    answered = table.receive(answer)
                    if answered is None:
                        continue
                    record = answered
                    driver.forget(record)
                    if record.state in SETTLED:
                        if self.protocol == "udp" and record.attempts > 1 and record.reason == "port-unreach":
                            late_answers += 1
                            self._slow_down(late_answers)
                        yield self._settle(record)
        finally:
            self._end_ns = perf()

    def _slow_down(self, late_answers: int) -> None:
        """A UDP port answered only a retry: the target's ICMP rate limit ate the first answer, most
        likely. Halve the pace (not below MIN_UDP_RATE), at most once per 10 such ports."""
        if self.rate is not None and late_answers % 10 == 1 and self.rate > MIN_UDP_RATE:
            self.rate = max(self.rate / 2, MIN_UDP_RATE)
            self.slowed.append(self.rate)

    def _settle(self, record: PortRecord) -> PortRecord:
        record.service = self.services.name(record.port, record.protocol)
        return record

    def interrupt(self) -> None:
        """Stop now (Ctrl-C): ports probed but not answered become silent, the others are dropped."""
        self.table.finish()

    @property
    def elapsed_ns(self) -> int:
        return (self._end_ns or time.perf_counter_ns()) - self._start_ns if self._start_ns else 0

    def notes(self) -> list[str]:
        """What the reader of the result should know: self-connects avoided, UDP's limits."""
        notes = []
        if self.table.self_connects:
            notes.append(f"{self.table.self_connects} connect(s) reached their own socket (source port = target "
                         f"port, TCP simultaneous open) and were sent again from another port: not open ports")
        if self.protocol == "udp":
            retried = sum(1 for r in self.table.records if r.attempts > 1 and r.state is not State.OPEN_FILTERED)
            silent = sum(1 for r in self.table.records if r.state is State.OPEN_FILTERED)
            text = (f"UDP: {silent} port(s) stayed silent after {self.table.retries + 1} probes (open|filtered: an "
                    f"open port that ignores the probe and a firewall that drops it look the same); "
                    f"{retried} answered only a retry")
            local = [h for h in self.hosts if _is_local(h)]
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
        """What the scan found so far."""
        for record in self.table.records:
            if not record.service:
                record.service = self.services.name(record.port, record.protocol)
        result = self.table.result(self.spec, self.mechanism, self.elapsed_ns)
        result.notes = self.notes()
        result.started = self.started
        result.names = dict(self.names)
        return result


def _icmp_limits() -> tuple[int, int] | None:
    """This host's global ICMP error limit (``icmp_msgs_per_sec``, ``icmp_msgs_burst``), if readable."""
    try:
        values = [int(Path(f"/proc/sys/net/ipv4/{key}").read_text()) for key in ("icmp_msgs_per_sec", "icmp_msgs_burst")]
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
            for _ in scan.run():
                pass
            results.append(scan.result())
    result = combine(results)
    if banners:
        grab_banners(result.records, banner_timeout)
    return result


async def portscan_async(targets: str | Iterable[str] = "127.0.0.1", ports: str | Sequence[int] | None = None,
                         **options: Any) -> ScanResult:
    """:func:`portscan` to ``await``: the same loop on a worker thread."""
    return await asyncio.to_thread(portscan, targets, ports, **options)


# -- banners -----------------------------------------------------------------------------------------
def grab_banners(records: Iterable[PortRecord], timeout: float = 2.0, size: int = 256) -> int:
    """Connect to every open TCP port of ``records`` at once and keep the first line its service sends
    (an SSH or SMTP greeting) in ``record.banner``; a web port (80, 8080, ...) that stays quiet is sent
    ``HEAD / HTTP/1.0`` and its status line kept. Waits ``timeout`` seconds at most. Returns how many
    banners were read."""
    todo = [r for r in records if r.protocol == "tcp" and r.state is State.OPEN]
    selector = selectors.DefaultSelector()
    sockets: dict[int, tuple[socket.socket, PortRecord, str]] = {}     # phase: connect, read, head
    for record in todo[:descriptor_budget(len(todo) or 1)]:
        sock = socket.socket()
        sock.setblocking(False)
        if sock.connect_ex((record.host, record.port)) not in (0, errno.EINPROGRESS):
            sock.close()
            continue
        selector.register(sock, selectors.EVENT_WRITE, record.index)
        sockets[record.index] = (sock, record, "connect")
    deadline = time.monotonic() + timeout
    quiet_after = time.monotonic() + min(timeout / 2, 1.0)        # then ask the web ports
    found = 0
    try:
        while sockets and (left := deadline - time.monotonic()) > 0:
            ready = selector.select(min(left, max(quiet_after - time.monotonic(), 0.01)))
            for key, _ in ready:
                sock, record, phase = sockets[key.data]
                if phase == "connect":
                    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) or sock.getsockname() == _peer(sock):
                        selector.unregister(sock)
                        sock.close()
                        del sockets[key.data]
                        continue
                    selector.modify(sock, selectors.EVENT_READ, key.data)
                    sockets[key.data] = (sock, record, "read")
                    continue
                with contextlib.suppress(OSError):
                    data = sock.recv(size)
                    text = data.decode("latin-1").strip().splitlines()
                    if text:
                        record.banner = text[0][:size]
                        found += 1
                selector.unregister(sock)
                sock.close()
                del sockets[key.data]
            if time.monotonic() >= quiet_after:
                for index, (sock, record, phase) in list(sockets.items()):
                    if phase == "read" and (record.port in HTTP_PORTS or record.service.startswith("http")) \
                            and record.port != 443:
                        with contextlib.suppress(OSError):
                            sock.send(b"HEAD / HTTP/1.0\r\n\r\n")
                        sockets[index] = (sock, record, "head")
                quiet_after = deadline
    finally:
        for sock, _, _ in sockets.values():
            selector.unregister(sock)
            sock.close()
        selector.close()
    return found


def _peer(sock: socket.socket) -> Any:
    try:
        return sock.getpeername()
    except OSError:
        return None


__all__ = ["PortScan", "portscan", "portscan_async", "grab_banners", "descriptor_budget", "resolve_targets"]
