"""The drivers of the scans that write their own packets or read ICMP errors (``-sS``, ``-sU``), as
``netstudy.portscan.engine``'s loop drives them (:class:`~netstudy.portscan.drivers.Driver`); imported
only by such a scan (they need ``netstudy.net`` and ``netstudy.wire``).

- :class:`Syn`: SYNs on a raw socket; SYN/ACK and RST read from a TPACKET_V3 ring on the interface the
  route to the targets crosses (``netstudy.net.packet``, as nmap's libpcap: whole blocks of answers, no
  system call per answer), else (``mechanism="raw"``, or no ring) from a raw TCP socket, one
  ``recv_into`` each; ICMP from a raw ICMP socket.
- :class:`UdpRaw`: UDP datagrams on a raw socket; answers and ICMP from raw sockets.
- :class:`UdpDatagram`: a connected UDP socket per port, no privilege: ``ECONNREFUSED`` and ``IP_RECVERR``.
"""
from __future__ import annotations

import contextlib
import errno
import random
import selectors
import socket
import time
from collections.abc import Sequence

from netstudy.errors import PrivilegeError
from netstudy.net import IcmpSocket, RawIPv4Socket, reserve_port, route_interface, source_address
from netstudy.net.filter import incoming_only
from netstudy.net.packet import RingCapture
from netstudy.portscan.core import Answer, PortRecord, Probe, connect_verdict, icmp_verdict
from netstudy.portscan.drivers import OneAtATime, descriptor_budget
from netstudy.portscan.packets import (
    read_icmp_answer,
    read_tcp_answer,
    read_tcp_answers,
    read_udp_answer,
    udp_payload,
    udp_probe,
)
from netstudy.wire.bpf import compile_filter
from netstudy.wire.echo import IP_RECVERR, ProbeError, read_ancillary, read_error_queue
from netstudy.wire.syn import SynTemplate


class _RawScan(OneAtATime):
    """What the SYN and the raw UDP scans share: a raw socket of one protocol that writes our probes and
    reads the answers to one held source port (no other program gets it), a raw ICMP socket for the
    unreachables, at most ``parallel`` probes in flight, and answers our own stack gives queued in
    ``local``."""

    mechanism = "raw"
    protocol: str

    def _open(self, number: int, what: str, instead: str, kind: int, ports: Sequence[int], parallel: int,
              receive: bool = True) -> None:
        self.raw = RawIPv4Socket(number, what, instead, receive)
        try:
            self.icmp = IcmpSocket(4, "raw")
            try:
                self.hold = reserve_port(kind, set(ports))
            except BaseException:
                self.icmp.close()
                raise
        except BaseException:
            self.raw.close()
            raise
        self.sport = self.hold.getsockname()[1]
        self.limit, self.in_flight = parallel, 0
        self.selector = selectors.DefaultSelector()
        if receive:
            self.raw.only_to_port(self.sport)
            self.selector.register(self.raw, selectors.EVENT_READ)
        self.selector.register(self.icmp, selectors.EVENT_READ)
        self.local: list[Answer] = []

    def capacity(self) -> int:
        return self.limit - self.in_flight

    def _unreachables(self, events: list[Answer]) -> None:
        """The ICMP errors that quote one of our probes, as answers."""
        while (event := self.icmp.read()) is not None:
            if isinstance(event, ProbeError) and (answer := read_icmp_answer(event, self.protocol, self.sport)):
                events.append(answer)

    def forget(self, record: PortRecord) -> None:
        self.in_flight = max(self.in_flight - 1, 0)

    def close(self) -> None:
        self.selector.close()
        self.raw.close()
        self.icmp.close()
        self.hold.close()


class Syn(_RawScan):
    """SYNs written on a raw socket; SYN/ACK and RST read from a packet ring (``ring=True`` and one can be
    opened on the one interface every target is reached through) or a raw TCP socket; ICMP unreachables
    from a raw ICMP socket."""

    protocol = "tcp"

    def __init__(self, hosts: Sequence[str], ports: Sequence[int], parallel: int, ring: bool = True) -> None:
        what, instead = "a SYN scan (-sS)", "a connect scan (-sT) works without it"
        self.capture = _answer_ring(hosts) if ring else None
        try:
            self._open(6, what, instead, socket.SOCK_STREAM, ports, parallel, receive=self.capture is None)
        except BaseException:
            if self.capture is not None:
                self.capture.close()
            raise
        self.isn = random.getrandbits(32)
        self.ack = (self.isn + 1) & 0xFFFFFFFF
        self.templates = {host: SynTemplate(source_address(host), host, self.sport, self.isn) for host in hosts}
        if self.capture is not None:
            expression = f"ip and tcp and dst port {self.sport} and tcp[tcpflags] & (tcp-syn|tcp-rst) != 0"
            self.capture.attach(incoming_only(compile_filter(expression, live=True)))
            self.selector.register(self.capture, selectors.EVENT_READ)
            self.mechanism = "ring"
            # the kernel stamps a ring's frames with the wall clock; the scan counts in perf_counter_ns
            self.clock_offset = time.time_ns() - time.perf_counter_ns()

    def send(self, probe: Probe) -> None:
        if self.raw.send(self.templates[probe.host].probe(probe.port), probe.host):
            self.in_flight += 1
        else:                                   # the send buffer is full: this probe did not leave
            self.local.append(Answer(probe.host, probe.port, "tcp", "requeue", "no buffer", time.perf_counter_ns()))

    def poll(self, timeout: float) -> list[Answer]:
        events, self.local = self.local, []
        if not events and not self.selector.select(timeout):
            return events
        sport, ack = self.sport, self.ack
        if self.capture is not None:
            capture, ring = self.capture, self.capture.buffer
            while (base := capture.next_block()) is not None:
                events += read_tcp_answers(ring, capture.packets_of(base), sport, ack, self.clock_offset)
                capture.release(base)
        else:
            raw = self.raw
            while (read := raw.read_into()) is not None:
                answer = read_tcp_answer(read[0], read[1], sport, ack, read[2])
                if answer is not None:
                    events.append(answer)
        self._unreachables(events)
        return events

    def close(self) -> None:
        super().close()
        if self.capture is not None:
            self.capture.close()


ANSWER_SNAPLEN = 14 + 60 + 60        # an Ethernet header, the longest IPv4 and TCP headers
ANSWER_RING_BUFFER = 16 << 20        # room for the answers of a burst (as the raw socket's receive buffer)
ANSWER_RETIRE_MS = 4                 # a block not full is handed over after this long (the scan's pace)


def _answer_ring(hosts: Sequence[str]) -> RingCapture | None:
    """A TPACKET_V3 ring on the one interface the answers of every host in ``hosts`` arrive on (``lo``
    for this host's own addresses), its filter still to attach; None when they come through several,
    or the kernel gives no ring (the raw socket reads them then)."""
    names = {route_interface(host) for host in hosts}
    name = names.pop() if len(names) == 1 else None
    if name is None:
        return None
    try:         # nothing passes its first filter: the scan's own goes on once our port is known
        return RingCapture(name, ANSWER_SNAPLEN, buffer_size=ANSWER_RING_BUFFER,
                           retire_ms=ANSWER_RETIRE_MS, program=compile_filter("less 0", live=True))
    except (OSError, PrivilegeError):
        return None


class UdpRaw(_RawScan):
    """UDP datagrams written on a raw socket; UDP answers and ICMP unreachables read from raw sockets."""

    protocol = "udp"

    def __init__(self, hosts: Sequence[str], ports: Sequence[int], parallel: int) -> None:
        what, instead = "a raw UDP scan (-sU --mechanism raw)", "-sU --mechanism datagram and -sT work without it"
        self._open(17, what, instead, socket.SOCK_DGRAM, ports, parallel)   # answers land in hold, not an error
        self.hold.setblocking(False)
        self.selector.register(self.hold, selectors.EVENT_READ)
        self.sources = {host: source_address(host) for host in hosts}

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
        self._unreachables(events)
        with contextlib.suppress(OSError):
            while self.hold.recv(65536) is not None:          # the answers' copies: read above, dropped here
                pass
        return events


class UdpDatagram(OneAtATime):
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
