"""The sockets and the clock around a sweep's bookkeeping (``netstudy.sweep.core.SweepTable``).

One loop drives every method: it asks the table for the next probe at a steady ``rate`` (probes a
second), hands the probe to the method's socket, files every answer that comes back, and tells the
table the time so that silent addresses are retried (each wait ``backoff`` times longer than the last)
and finally given up. All probes are in flight together: a /24 takes about one timeout, not 254.

- ``icmp``: echo requests from one ICMP socket (``netstudy.net.IcmpSocket``: raw when privileged,
  else the kernel's unprivileged ICMP datagram socket), built by ``netstudy.wire.echo.EchoTemplate``;
  replies matched by identifier, sequence number and address.
- ``arp``: who-has requests broadcast on the local segment from an ``AF_PACKET`` socket
  (``netstudy.net.PacketSocket``), built and read with ``netstudy.wire`` (Ethernet, ARP): finds hosts
  that drop ICMP; the replies give their MAC addresses (vendors: ``netstudy.sweep.vendors``).
- ``tcp``: a TCP ping to a few common ports (80, 443, 22), crossing routers: a SYN-ACK *or* a RST
  proves the host is up. With privilege (root or CAP_NET_RAW) SYNs written on a raw socket
  (``netstudy.net.RawIPv4Socket``), built and read by ``netstudy.wire.syn``, as ``nmap -PS`` does (the
  kernel answers each SYN-ACK with its own RST: it knows no such connection); without it, a
  non-blocking ``connect()`` per port. ``mechanism`` says which: ``raw`` or ``connect``.

``sweep("10.0.0.0/24")`` is a plain synchronous call (a ``selectors`` loop, fine inside Jupyter);
``Sweep(...).run()`` yields each address as it settles (what the CLI prints line by line);
``await sweep_async(...)`` runs it on a worker thread; ``replay(capture)`` rebuilds a sweep from a
recorded capture of one.
"""
from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import os
import random
import selectors
import socket
import struct
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from netstudy.errors import DecodeError, InputError, PrivilegeError, check_number
from netstudy.net import (
    IcmpSocket,
    Interface,
    PacketSocket,
    RawIPv4Socket,
    interface_for,
    interfaces,
    reserve_port,
    source_address,
)
from netstudy.net.link import ETH_P_ARP
from netstudy.sweep.core import (
    Answer,
    Probe,
    SweepResult,
    SweepTable,
    Target,
    combine,
    expand,
)
from netstudy.sweep.vendors import vendor
from netstudy.wire import ARP, Ethernet, ICMPEcho, decode
from netstudy.wire.echo import EchoReply, EchoTemplate, ProbeError, read_message
from netstudy.wire.ethernet import BROADCAST
from netstudy.wire.syn import SynTemplate, read_syn_reply

TCP_PORTS = (80, 443, 22)          # what nmap -sn's TCP probes knock on (443, 80), and ssh
MAX_RATE = 100_000             # probes a second
MAX_TIMEOUT = 3600.0           # seconds the first attempt may wait
MAX_RETRIES = 10               # attempts after the first (fping's -r has no cap; ten is plenty and bounded)
MAX_BACKOFF = 10.0             # each retry waits at most ten times longer than the one before
Event = EchoReply | ProbeError | Answer


# -- one class per method: open, send a probe, read what came back -------------------------------------
class _OneSocket:
    """What the ICMP, ARP and SYN drivers share: one socket read through a selector, answers our own stack
    gives (a send that failed) queued in ``local``, nothing to forget per address, and on ``close`` the
    selector and every socket the driver owns closed."""

    def _watch(self, readable: Any, *owned: Any) -> None:
        self.selector = selectors.DefaultSelector()
        self.selector.register(readable, selectors.EVENT_READ)
        self.local: list[Event] = []
        self._owned = (readable, *owned)

    def forget(self, target: Target) -> None:
        pass

    def close(self) -> None:
        self.selector.close()
        for sock in self._owned:
            sock.close()


class _Icmp(_OneSocket):
    """Echo requests from one ICMP socket (raw or datagram)."""

    def __init__(self, mechanism: str, source: str | None, size: int) -> None:
        self.socket = IcmpSocket(4, mechanism, source)
        self.mechanism, self.identifier = self.socket.mechanism, self.socket.identifier
        self.template = EchoTemplate(self.identifier, size, 4)
        self._watch(self.socket)

    def send(self, probe: Probe) -> None:
        try:
            self.socket.send(self.template.request(probe.sequence, time.time_ns()), probe.address)
        except OSError as exc:       # e.g. EHOSTUNREACH: the neighbour entry failed a moment ago
            self.local.append(Answer(probe.address, "unreachable", time.perf_counter_ns(),
                                     reason=f"sendto: {exc.strerror or exc}"))

    def poll(self, timeout: float) -> list[Event]:
        events, self.local = self.local, []
        if events or self.selector.select(timeout):
            while (event := self.socket.read()) is not None:
                events.append(event)
        return events


def arp_request(sender_mac: str, sender_ip: str, target_ip: str) -> bytes:
    """A broadcast who-has frame: Ethernet to ff:ff:ff:ff:ff:ff, EtherType 0x0806, ARP request."""
    return (Ethernet(dst=BROADCAST, src=sender_mac)
            / ARP(opcode=1, sender_mac=sender_mac, sender_ip=sender_ip, target_ip=target_ip)).build()


def read_arp_reply(frame: bytes, own_ip: str, received_ns: int) -> Answer | None:
    """The :class:`Answer` an Ethernet frame carries if it is an ARP reply to ``own_ip``, else None."""
    try:
        if len(frame) < 42 or frame[12:14] != b"\x08\x06":
            return None
        arp = ARP.parse(frame, 14)
    except DecodeError:
        return None
    if arp.opcode != 2 or arp.target_ip != own_ip:
        return None
    return Answer(arp.sender_ip, "arp reply", received_ns, mac=arp.sender_mac)


def local_segment(addresses: Sequence[str], interface: str | None = None) -> Interface:
    """The Ethernet interface whose network holds every one of ``addresses``; :class:`InputError`
    saying why when there is none (ARP does not cross routers)."""
    choices = interfaces()
    if interface is not None:
        named = [i for i in choices if i.name == interface and i.mac]
        if not named:
            raise InputError(f"{interface}: no Ethernet interface of that name with an IPv4 address")
        found: Interface | None = named[0]
    else:
        found = interface_for(addresses[0], choices)
    outside = [a for a in addresses if found is None or ipaddress.IPv4Address(a) not in found.network]
    if found is None or outside:
        have = ", ".join(str(i) for i in choices if i.mac) or "none with an Ethernet address"
        raise InputError(f"{outside[0] if outside else addresses[0]} is not on any local segment (interfaces: "
                         f"{have}): ARP does not cross routers; sweep it with --method icmp or tcp")
    return found


class _Arp(_OneSocket):
    """Who-has requests from an AF_PACKET socket on the segment that holds the addresses."""

    mechanism = "packet"

    def __init__(self, addresses: Sequence[str], interface: str | None) -> None:
        self.interface = local_segment(addresses, interface)
        try:
            self.socket = PacketSocket(self.interface, ETH_P_ARP)
        except PrivilegeError as exc:
            raise PrivilegeError(f"an ARP sweep: {exc}; without privilege, use --method icmp or tcp") from None
        self.mac, self.ip = self.interface.mac, self.interface.address
        self._watch(self.socket)

    def send(self, probe: Probe) -> None:
        if probe.address == self.ip:        # our own address: nobody else answers for it (nmap: "Host is up")
            self.local.append(Answer(probe.address, "local", time.perf_counter_ns(), mac=self.mac))
            return
        self.socket.send(arp_request(self.mac, self.ip, probe.address))

    def poll(self, timeout: float) -> list[Event]:
        events, self.local = self.local, []
        if events or self.selector.select(timeout):
            while (read := self.socket.read()) is not None:
                answer = read_arp_reply(read[0], self.ip, read[1])
                if answer is not None:
                    events.append(answer)
        return events


class _Tcp:
    """A non-blocking connect() to each of ``ports``: connected (SYN-ACK) or refused (RST) is an answer."""

    mechanism = "connect"
    _LINGER_ZERO = struct.pack("ii", 1, 0)     # close() sends a RST, not a FIN: we only wanted to knock

    def __init__(self, ports: Sequence[int]) -> None:
        self.ports = _check_ports(ports)
        self.selector = selectors.DefaultSelector()
        self.open: dict[str, list[socket.socket]] = {}
        self.local: list[Event] = []

    def send(self, probe: Probe) -> None:
        self._close(probe.address)
        sockets = self.open[probe.address] = []
        for port in self.ports:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            code = sock.connect_ex((probe.address, port))
            if code in (0, errno.EINPROGRESS):
                self.selector.register(sock, selectors.EVENT_WRITE, (probe.address, port))
                sockets.append(sock)
                continue
            sock.close()
            self.local.append(self._answer(probe.address, port, code))

    def _answer(self, address: str, port: int, code: int) -> Answer:
        now = time.perf_counter_ns()
        if code == 0:
            return Answer(address, "syn-ack", now, port=port)
        if code == errno.ECONNREFUSED:
            return Answer(address, "reset", now, port=port)
        return Answer(address, "unreachable", now, port=port, reason=f"connect: {os.strerror(code)}")

    def poll(self, timeout: float) -> list[Event]:
        events, self.local = self.local, []
        for key, _ in self.selector.select(0 if events else timeout):
            address, port = key.data
            sock: Any = key.fileobj
            if sock.fileno() < 0:            # closed a moment ago: another port of the address answered
                continue
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code in (errno.ETIMEDOUT, errno.EINPROGRESS):
                continue
            events.append(self._answer(address, port, code))
            self._close(address)
        return events

    def _close(self, address: str) -> None:
        for sock in self.open.pop(address, []):
            self.selector.unregister(sock)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, self._LINGER_ZERO)
            sock.close()

    def forget(self, target: Target) -> None:
        self._close(target.address)

    def close(self) -> None:
        for address in list(self.open):
            self._close(address)
        self.selector.close()


def _check_ports(ports: Sequence[int]) -> tuple[int, ...]:
    if not ports or not all(1 <= p <= 65535 for p in ports):
        raise InputError(f"TCP ports must be 1..65535, got {list(ports)}")
    return tuple(ports)


class _Syn(_OneSocket):
    """SYNs to each of ``ports`` written on a raw socket (``netstudy.wire.syn.SynTemplate``), all from one
    held source port with one ISN; a SYN-ACK or a RST to that port acknowledging the ISN is an answer."""

    mechanism = "raw"

    def __init__(self, ports: Sequence[int]) -> None:
        self.ports = _check_ports(ports)
        self.raw = RawIPv4Socket(6, "a TCP SYN sweep", "without it, --method tcp uses connect() (no privilege)")
        try:
            self.hold = reserve_port(socket.SOCK_STREAM, set(self.ports))   # no other program gets our port
            self.sport = self.hold.getsockname()[1]
            self.raw.only_to_port(self.sport)
        except BaseException:
            self.raw.close()
            raise
        self.isn = random.getrandbits(32)
        self.ack = (self.isn + 1) & 0xFFFFFFFF
        self._watch(self.raw, self.hold)

    def send(self, probe: Probe) -> None:
        """A SYN to each port. One the kernel's buffer refused is not retried here: the address's wait
        runs out and the table retries it, as a lost probe."""
        try:
            template = SynTemplate(source_address(probe.address), probe.address, self.sport, self.isn)
            for port in self.ports:
                self.raw.send(template.probe(port), probe.address)
        except OSError as exc:                   # no route to it (ENETUNREACH): our own stack says so
            reason = f"sendto: {os.strerror(exc.errno)}" if exc.errno else str(exc)
            self.local.append(Answer(probe.address, "unreachable", time.perf_counter_ns(), reason=reason))

    def poll(self, timeout: float) -> list[Event]:
        events, self.local = self.local, []
        if not events and not self.selector.select(timeout):
            return events
        while (read := self.raw.read_into()) is not None:
            reply = read_syn_reply(read[0], read[1], self.sport, self.ack)
            if reply is not None and (reply.rst or reply.syn):
                events.append(Answer(reply.source, "reset" if reply.rst else "syn-ack", read[2], port=reply.port,
                                     ttl=reply.ttl))
        return events


def _tcp_driver(mechanism: str, ports: Sequence[int]) -> _Syn | _Tcp:
    """SYNs from a raw socket (``raw``; ``auto`` when this process may open one), else ``connect()``."""
    if mechanism not in ("auto", "raw", "connect"):
        raise InputError(f"a TCP sweep's mechanism is auto, raw or connect, not {mechanism!r}")
    if mechanism == "connect":
        return _Tcp(ports)
    try:
        return _Syn(ports)
    except PrivilegeError:
        if mechanism == "raw":
            raise
        return _Tcp(ports)


# -- the loop ------------------------------------------------------------------------------------------
class Sweep:
    """One sweep of ``targets`` (a CIDR, an address, or a list of them; at most a /16).

    ``method``: ``icmp`` (echo), ``arp`` (local segment only) or ``tcp`` (SYN, or connect, to ``ports``);
    ``rate``: probes a second; ``timeout``: seconds the first attempt waits for an answer, each retry
    waiting ``backoff`` times longer than the one before; ``retries``: attempts after the first for an
    address that stays silent; ``mechanism``: ICMP ``auto``, ``raw`` or ``datagram``; TCP ``auto`` (SYNs
    on a raw socket when privileged, else connect), ``raw`` or ``connect``; ``source``
    (ICMP): address or interface to send from; ``interface`` (ARP): which segment. A value that cannot
    be used raises :class:`InputError`; a missing privilege :class:`PrivilegeError` saying what to do.
    """

    def __init__(self, targets: str | Iterable[str], *, method: str = "icmp", rate: float = 1000.0,
                 timeout: float = 0.5, retries: int = 1, backoff: float = 1.5, mechanism: str = "auto",
                 source: str | None = None, interface: str | None = None, ports: Sequence[int] = TCP_PORTS,
                 size: int = 56) -> None:
        check_number("rate", rate, 0, MAX_RATE, above=True)
        check_number("timeout", timeout, 0, MAX_TIMEOUT, above=True)
        check_number("retries", retries, 0, MAX_RETRIES, whole=True)
        check_number("backoff", backoff, 1, MAX_BACKOFF)
        self.spec = targets if isinstance(targets, str) else ", ".join(targets)
        self.addresses = expand(targets)
        self.method, self.rate = method, rate
        self.driver: _Icmp | _Arp | _Syn | _Tcp
        identifier = 0
        self.table = SweepTable(self.addresses, method, timeout_ns=int(timeout * 1e9), retries=retries,
                                backoff=backoff)          # checks method, timeout, retries, backoff first
        if method == "icmp":
            self.driver = _Icmp(mechanism, source, size)
            identifier = self.driver.identifier
        elif method == "arp":
            self.driver = _Arp(self.addresses, interface)
        else:
            self.driver = _tcp_driver(mechanism, ports)
        self.table.identifier = identifier
        self.mechanism = self.driver.mechanism
        self._start_ns = self._end_ns = 0

    def close(self) -> None:
        self.driver.close()

    def __enter__(self) -> Sweep:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self) -> Iterator[Target]:
        """Probe every address, yielding each as it settles (alive, unreachable or silent)."""
        perf, table, driver = time.perf_counter_ns, self.table, self.driver
        step = int(1e9 / self.rate)
        start = self._start_ns = perf()
        next_send = start
        try:
            while not table.done:
                now = perf()
                for target in table.expire(now):
                    driver.forget(target)
                    yield target
                while table.has_due and now >= next_send:
                    probe = table.send(perf())
                    if probe is None:
                        break
                    driver.send(probe)
                    next_send = max(next_send + step, now - step)     # keep the pace; no burst to catch up
                    for event in driver.poll(0):                      # answers between sends keep RTTs true
                        if (settled := table.receive(event)) is not None:
                            yield self._settle(settled)
                    now = perf()
                if table.done:
                    break
                wakes = [w for w in (next_send if table.has_due else None, table.next_deadline()) if w is not None]
                wait = max(min(wakes) - perf(), 0) / 1e9 if wakes else 0.05
                for event in driver.poll(wait):
                    if (settled := table.receive(event)) is not None:
                        yield self._settle(settled)
        finally:
            self._end_ns = perf()

    def _settle(self, target: Target) -> Target:
        """An address just answered: no more probes for it; its vendor from its MAC."""
        self.driver.forget(target)
        if target.mac and not target.vendor:
            target.vendor = vendor(target.mac)
        return target

    @property
    def elapsed_ns(self) -> int:
        return (self._end_ns or time.perf_counter_ns()) - self._start_ns if self._start_ns else 0

    def result(self) -> SweepResult:
        """What the sweep found so far; MAC addresses get their vendor's name."""
        for target in self.table.targets:
            if target.mac and not target.vendor:
                target.vendor = vendor(target.mac)
        return self.table.result(self.spec, self.mechanism, self.elapsed_ns)


def sweep(targets: str | Iterable[str], method: str = "icmp", **options: Any) -> SweepResult:
    """Sweep ``targets`` and return the result (options: see :class:`Sweep`). ``method="all"``: ICMP,
    then ARP if the addresses are on a local segment and this process may open a packet socket, then
    TCP for the addresses still silent; one combined result (``found_by`` says which method found what)."""
    if method != "all":
        with Sweep(targets, method=method, **options) as session:
            for _ in session.run():
                pass
            return session.result()
    icmp_options = {k: v for k, v in options.items() if k not in ("interface", "ports")}
    results = [sweep(targets, "icmp", **icmp_options)]
    arp_options = {k: v for k, v in options.items() if k not in ("mechanism", "source", "ports", "size")}
    with contextlib.suppress(InputError, PrivilegeError):   # not a local segment, or no packet socket
        results.append(sweep(targets, "arp", **arp_options))
    found = {t.address for r in results for t in r.alive}
    silent = [t.address for t in results[0].targets if t.address not in found]
    if silent:
        tcp_options = {k: v for k, v in options.items() if k not in ("mechanism", "source", "interface", "size")}
        results.append(sweep(silent, "tcp", **tcp_options))
    combined = combine(results)
    return SweepResult(results[0].spec, combined.method, combined.mechanism, combined.targets,
                       combined.elapsed_ns, combined.timeline, combined.late, combined.strays)


async def sweep_async(targets: str | Iterable[str], method: str = "icmp", **options: Any) -> SweepResult:
    """:func:`sweep` to ``await``: the same synchronous loop on a worker thread."""
    return await asyncio.to_thread(sweep, targets, method, **options)


# -- a sweep rebuilt from a capture --------------------------------------------------------------------
def replay(records: Iterable[Any], method: str = "icmp", spec: str | None = None) -> SweepResult:
    """A sweep rebuilt from a capture of one (``netstudy.pcap.read(path)``, taken on the sweeping
    host's interface). ``icmp``: the echo requests with the first one's identifier are the probes
    (each attempt at the capture's time), and every echo reply and ICMP error goes through the same
    :class:`SweepTable` as a live run. ``arp``: the who-has requests of the first sender are the
    probes, the replies to it the answers. Addresses probed but never answered are silent.
    ``mechanism`` says ``"capture"``; times are the capture's, nanoseconds since the epoch."""
    if method not in ("icmp", "arp"):
        raise InputError(f"replay takes method icmp or arp, not {method!r}")
    probes: list[tuple[str, int, int | None]] = []          # (address, time, echo sequence)
    answers: list[Event] = []
    identifier: int | None = None
    own: str | None = None
    who_has: list[tuple[str, int]] = []                       # ICMP: the kernel's ARP requests, in case
    for record in records:
        if method == "icmp" and len(record.data) >= 42 and record.data[12:14] == b"\x08\x06":
            request = ARP.parse(record.data, 14)
            if request.opcode == 1:
                who_has.append((request.target_ip, record.timestamp_ns))
            continue
        if method == "arp":
            if len(record.data) < 42 or record.data[12:14] != b"\x08\x06":
                continue
            arp = ARP.parse(record.data, 14)
            if arp.opcode == 1 and (own is None or arp.sender_ip == own):
                own = arp.sender_ip
                probes.append((arp.target_ip, record.timestamp_ns, None))
            elif arp.opcode == 2 and own is not None:
                answer = read_arp_reply(record.data, own, record.timestamp_ns)
                if answer is not None:
                    answers.append(answer)
            continue
        packet = decode(record.data, record.linktype)
        ip: Any = packet.network            # header fields come from the field tables: typed as Any
        layer: Any = packet.transport
        if ip is None or ip.NAME != "IPv4" or layer is None or not layer.NAME.startswith("ICMP"):
            continue
        if isinstance(layer, ICMPEcho) and layer.type == 8:
            if identifier is None:
                identifier = layer.identifier
            if layer.identifier == identifier:
                probes.append((ip.dst, record.timestamp_ns, layer.sequence))
            continue
        event = read_message(record.data, layer.offset, 4, ip.src, ip.ttl, record.timestamp_ns,
                             end=ip.layout()[2])
        if event is not None:
            answers.append(event)
    echoed = {address for address, _, _ in probes}
    for address, at in who_has:          # an echo request to an empty address waits for ARP, never leaves
        if address not in echoed:
            echoed.add(address)
            probes.append((address, at, None))
    probes.sort(key=lambda p: p[1])
    if not probes:
        raise InputError(f"no {'echo requests' if method == 'icmp' else 'ARP requests'} in this capture")
    addresses = list(dict.fromkeys(address for address, _, _ in probes))
    table = SweepTable(addresses, method, identifier=identifier or 0, timeout_ns=10**18)
    moments: list[tuple[int, int, str, int | None, Event | None]] = sorted(
        [(at, 0, address, sequence, None) for address, at, sequence in probes]
        + [(event.received_ns, 1, "", None, event) for event in answers], key=lambda m: (m[0], m[1]))
    for at, _, address, sequence, arrived in moments:
        if arrived is None:
            table.sent(address, at, sequence)
        else:
            table.receive(arrived)
    first, last = moments[0][0], moments[-1][0]
    table.finish(last)
    result = table.result(spec or f"{addresses[0]} ... ({len(addresses)} addresses)", "capture", last - first)
    for target in result.targets:
        if target.mac:
            target.vendor = vendor(target.mac)
    return result
