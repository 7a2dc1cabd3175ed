"""Raw IPv4 sockets for engines that write whole datagrams themselves (a port scanner's SYN and UDP
probes, a network scanner's SYN ping) and read the answers of one protocol straight off the wire.

- :class:`RawIPv4Socket`: ``send`` takes a complete IPv4 datagram, header included (``IPPROTO_RAW``
  implies ``IP_HDRINCL``, raw(7)), built by ``netstudy.wire``; ``read_into`` hands back the next
  datagram of ``protocol`` this host received (TCP, UDP, ...), IP header first, without blocking.
  Both need root or CAP_NET_RAW; without it, :class:`~netstudy.errors.PrivilegeError` says what is
  needed and what works instead.
- :func:`reserve_port`: a port held by a bound socket, for the raw probes' source port.
- :func:`source_address`: the address this host sends from towards a destination (the kernel's
  route lookup, through a connected UDP socket: nothing is sent), which a TCP or UDP checksum's
  pseudo-header needs.

A raw socket of a protocol receives a copy of every datagram of that protocol the host receives,
answers to other programs included (and, on loopback, our own probes): the caller matches.
"""
from __future__ import annotations

import contextlib
import socket
import time

from netstudy.errors import PrivilegeError
from netstudy.net.filter import attach_filter
from netstudy.wire.bpf import BpfProgram, compile_filter

RECEIVE_BUFFER = 16 << 20        # a burst of answers to a fast scan must not overflow the socket
LINKTYPE_IPV4 = 228              # a raw IPv4 socket reads datagrams from the IP header on


def port_filter(port: int) -> BpfProgram:
    """The kernel filter (``dst port N`` compiled for raw IPv4, link type 228) for a raw IPv4 socket that
    keeps only datagrams to ``port``, TCP, UDP or SCTP, unfragmented or first fragments: the kernel drops
    the rest before they are queued (a scan's own probes, on loopback, and everybody else's traffic)."""
    return compile_filter(f"dst port {port}", linktype=LINKTYPE_IPV4)


def raw_privilege_message(what: str, instead: str = "") -> str:
    """Why a raw socket could not be opened, and the ways out."""
    text = f"{what} needs a raw socket: run as root or give the interpreter CAP_NET_RAW (setcap cap_net_raw+ep)"
    return f"{text}; {instead}" if instead else text


def source_address(destination: str) -> str:
    """The local address the kernel would send from to reach ``destination`` (no packet leaves)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((destination, 9))
        return str(probe.getsockname()[0])


def reserve_port(kind: int, avoid: set[int]) -> socket.socket:
    """A socket bound to a free port of ``kind`` (``SOCK_STREAM``, ``SOCK_DGRAM``) that is not in ``avoid``:
    the source port of probes written on a raw socket, held so that no other program gets it meanwhile."""
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


class RawIPv4Socket:
    """Whole IPv4 datagrams out; the datagrams of ``protocol`` (6 TCP, 17 UDP, ...) this host receives, in.

    ``what`` names the use in the :class:`PrivilegeError` raised without privilege, ``instead`` what
    works without it (``"a connect scan (-sT) needs no privilege"``). ``receive=False``: send only, for a
    caller that reads the answers elsewhere (a packet ring): no socket of ``protocol`` gets a copy of each
    (``read_into`` reads the ``IPPROTO_RAW`` socket, which never receives, raw(7))."""

    def __init__(self, protocol: int, what: str = "this", instead: str = "", receive: bool = True) -> None:
        self.protocol = protocol
        try:
            self.out = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        except PermissionError:
            raise PrivilegeError(raw_privilege_message(what, instead)) from None
        try:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, protocol) if receive else self.out
        except PermissionError:
            self.out.close()
            raise PrivilegeError(raw_privilege_message(what, instead)) from None
        for sock, option in ((self.sock, socket.SO_RCVBUF), (self.out, socket.SO_SNDBUF)):
            force = getattr(socket, "SO_RCVBUFFORCE" if option == socket.SO_RCVBUF else "SO_SNDBUFFORCE", 0)
            try:
                sock.setsockopt(socket.SOL_SOCKET, force, RECEIVE_BUFFER)
            except OSError:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, option, RECEIVE_BUFFER)
            sock.setblocking(False)
        self._buffer = bytearray(65536)
        self.view = memoryview(self._buffer)

    def only_to_port(self, port: int) -> None:
        """Receive only datagrams whose destination port is ``port`` (TCP or UDP): :func:`port_filter`."""
        attach_filter(self.sock, port_filter(port))
        while self.read_into() is not None:          # what was queued before the filter: not filtered, drop it
            pass

    def fileno(self) -> int:
        """The receiving socket's descriptor (what a selector waits on)."""
        return self.sock.fileno()

    def send(self, datagram: bytes | bytearray, destination: str) -> bool:
        """Send one datagram (IP header included); False when the socket's send buffer is full (try
        again after a moment), an ``OSError`` naming the address for anything else."""
        try:
            self.out.sendto(datagram, (destination, 0))
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as exc:
            if exc.errno == 105:                     # ENOBUFS: the device queue is full, as good as EAGAIN
                return False
            raise OSError(exc.errno, f"sending to {destination}: {exc.strerror}") from None
        return True

    def read_into(self) -> tuple[memoryview, int, int] | None:
        """``(buffer, length, perf_counter_ns)`` of the next datagram received (IP header first), or
        None when none is waiting. The buffer is reused by the next read: copy what you keep."""
        try:
            n = self.sock.recv_into(self._buffer)
        except (BlockingIOError, InterruptedError):
            return None
        return self.view, n, time.perf_counter_ns()

    def close(self) -> None:
        self.sock.close()
        self.out.close()

    def __enter__(self) -> RawIPv4Socket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
