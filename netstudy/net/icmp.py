"""ICMP sockets for any engine that sends echo requests or reads ICMP errors (ping and traceroute in
``netstudy.icmp``), chosen by what this process may do. Bytes are built and read by
``netstudy.wire.echo``; this module only opens, configures, sends and receives.

1. A raw ICMP socket (raw(7)): needs root or CAP_NET_RAW. For IPv4 every read starts with the IP
   header (so the TTL is right there); it sees every ICMP message the host receives, so a filter
   (``ICMP_FILTER``, ``ICMP6_FILTER``) keeps out echo requests and our identifier picks our replies.
2. The kernel's ICMP datagram socket (icmp(7), "ping socket"): ``SOCK_DGRAM`` + ``IPPROTO_ICMP``,
   allowed to the groups in ``net.ipv4.ping_group_range``. The kernel owns the identifier (the
   socket's "port"), checks and fills the checksum, and hands us only our own replies, without the IP
   header: the TTL comes as ancillary data (``IP_RECVTTL``), and ICMP errors through the error queue
   (``IP_RECVERR``), where we read the offender's address and our original request.
3. For traceroute's UDP probes, a plain UDP socket with ``IP_RECVERR``: no privilege at all.

Every socket is non-blocking; the engines wait on them with ``selectors``.
"""
from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import socket
import struct
import time
from collections.abc import Callable

from netstudy.capabilities import ping_group_range
from netstudy.errors import InputError, PrivilegeError
from netstudy.wire.echo import (
    IP_RECVERR,
    IPV6_RECVERR,
    EchoReply,
    ProbeError,
    read_ancillary,
    read_error_queue,
    read_ipv4_datagram,
    read_message,
)

SOL_RAW, ICMP_FILTER, ICMP6_FILTER = 255, 1, 1
IP_RECVTTL, IPV6_RECVHOPLIMIT = 12, 51
IPV6_UNICAST_HOPS = 16
ANCILLARY_BYTES = 512
# ICMP types a pinger or tracer wants to see; every other type is filtered out in the kernel.
WANTED_ICMP = (0, 3, 4, 5, 11, 12)             # echo reply, unreachable, quench, redirect, time exceeded, param
WANTED_ICMPV6 = (1, 2, 3, 4, 129)              # unreachable, too big, time exceeded, param problem, echo reply

Event = EchoReply | ProbeError


def resolve(host: str, version: int | None = None) -> tuple[int, str]:
    """``(4 or 6, address)`` for a host name or address literal; :class:`InputError` naming the host if
    it is unknown, or not of the ``version`` asked for."""
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        pass
    else:
        if version is not None and address.version != version:
            raise InputError(f"{host}: Address family for hostname not supported (asked for IPv{version})")
        return address.version, (host if "%" in host else str(address))
    family = {4: socket.AF_INET, 6: socket.AF_INET6}.get(version, socket.AF_UNSPEC)  # type: ignore[arg-type]
    try:
        infos = socket.getaddrinfo(host, None, family, socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        raise InputError(f"{host}: {exc.strerror}") from None
    info = infos[0]          # the resolver's first choice (RFC 6724 order, /etc/gai.conf), as iputils' ping takes
    return (4 if info[0] == socket.AF_INET else 6), str(info[4][0])


def _family(version: int) -> tuple[int, int]:
    return (socket.AF_INET, socket.IPPROTO_ICMP) if version == 4 else (socket.AF_INET6, socket.IPPROTO_ICMPV6)


def privilege_message(what: str, raw_only: bool = False) -> str:
    """Why no ICMP socket could be opened, and the ways out (root, CAP_NET_RAW, ping_group_range)."""
    if raw_only:
        return f"{what} needs a raw socket: run as root or give the interpreter CAP_NET_RAW (setcap cap_net_raw+ep)"
    low, high = ping_group_range()
    groups = sorted({os.getegid(), *os.getgroups()})
    named = ", ".join(map(str, groups))
    if _in_user_namespace():
        # The kernel checks the range against the ids outside the namespace, and shows it inside with
        # every id the namespace does not map as 65534: '1 0' (nobody) can read '65534 65534' there.
        outside = sorted({g for g in map(_outside_gid, groups) if g is not None})
        setting = "net.ipv4.ping_group_range"
        named += (f" of this user namespace ({', '.join(map(str, outside)) or 'not mapped'} outside it, where the "
                  f"range is set and checked; in here it reads '{low} {high}', as ids the namespace does not "
                  f"map show as 65534)")
    else:
        setting = f"net.ipv4.ping_group_range ('{low} {high}')"
    return (f"{what} needs a raw ICMP socket (root or CAP_NET_RAW) or an unprivileged ICMP socket, which "
            f"{setting} does not allow for group(s) {named}: run as root, give the interpreter CAP_NET_RAW, "
            f"or, as root, sysctl -w net.ipv4.ping_group_range='0 2147483647'")


def _outside_gid(gid: int) -> int | None:
    """The id outside this user namespace of group ``gid`` inside it (``/proc/self/gid_map``), or None."""
    try:
        with open("/proc/self/gid_map") as f:
            for line in f:
                inside, outside, count = map(int, line.split())
                if inside <= gid < inside + count:
                    return outside + gid - inside
    except (OSError, ValueError):
        pass
    return None


def _in_user_namespace() -> bool:
    """In a user namespace, ids that are not mapped read as 65534, so the range can look wrong."""
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() != ["0", "0", "4294967295"]
    except OSError:
        return False


def bind_to_device(sock: socket.socket, interface: str) -> None:
    """Send only through ``interface`` (SO_BINDTODEVICE, socket(7)); an OSError naming it if that fails
    (iputils: ``SO_BINDTODEVICE eth9: No such device``), not a bare ``[Errno 19] No such device``."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
    except OSError as exc:
        named = type(exc)(f"interface {interface}: {exc.strerror or exc} (SO_BINDTODEVICE)")
        named.errno = exc.errno
        raise named from None


def _bind(sock: socket.socket, version: int, source: str | None) -> None:
    """Bind to a source address, or to an interface by name (SO_BINDTODEVICE); else to the wildcard."""
    if source is None:
        sock.bind(("0.0.0.0", 0) if version == 4 else ("::", 0))
        return
    try:
        ipaddress.ip_address(source.split("%")[0])
    except ValueError:
        bind_to_device(sock, source)
        sock.bind(("0.0.0.0", 0) if version == 4 else ("::", 0))
        return
    try:
        sock.bind((source, 0))
    except OSError as exc:
        raise OSError(exc.errno, f"cannot bind to source address {source}: {exc.strerror}") from None


def check_ttl(ttl: int) -> int:
    """``ttl`` if it is a TTL / hop limit a packet can carry (1-255), else :class:`InputError`."""
    if not 1 <= ttl <= 255:
        raise InputError(f"ttl {ttl} is out of range: 1 <= ttl <= 255")
    return ttl


def set_ttl(sock: socket.socket, version: int, ttl: int) -> None:
    """The TTL (IPv4) or hop limit (IPv6) of what this socket sends next (ip(7), ipv6(7))."""
    check_ttl(ttl)
    if version == 4:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    else:
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_UNICAST_HOPS, ttl)


def send_reporting_once(sock: socket.socket, data: bytes | bytearray, address: tuple, recverr: bool) -> None:
    """``sendto``; with IP_RECVERR on, an ICMP error about an EARLIER datagram is also set as the
    socket's pending error, and the next send fails with it once (ip(7)). Its details wait in the
    error queue, so that failure is not about this datagram: send it again. A second failure is real."""
    try:
        sock.sendto(data, address)
    except BlockingIOError:
        raise
    except OSError:
        if not recverr:
            raise
        sock.sendto(data, address)


class IcmpSocket:
    """An ICMP or ICMPv6 socket for echo probes: ``mechanism`` is ``"raw"`` or ``"datagram"``.

    ``mechanism="auto"`` takes a raw socket if this process may open one, else the datagram socket,
    else raises :class:`PrivilegeError`. ``identifier`` is the echo identifier our probes carry.
    """

    def __init__(self, version: int = 4, mechanism: str = "auto", source: str | None = None) -> None:
        if mechanism not in ("auto", "raw", "datagram"):
            raise InputError(f"mechanism must be auto, raw or datagram, not {mechanism!r}")
        self.version = version
        family, proto = _family(version)
        sock = None
        if mechanism in ("auto", "raw"):
            try:
                sock, self.mechanism = socket.socket(family, socket.SOCK_RAW, proto), "raw"
            except PermissionError:
                if mechanism == "raw":
                    raise PrivilegeError(privilege_message("a raw ICMP socket", raw_only=True)) from None
        if sock is None:
            try:
                sock, self.mechanism = socket.socket(family, socket.SOCK_DGRAM, proto), "datagram"
            except PermissionError:
                raise PrivilegeError(privilege_message("ICMP echo")) from None
        self.sock = sock
        try:
            self._configure(source)
        except BaseException:
            sock.close()
            raise
        self._buffer = bytearray(65536)
        self._view = memoryview(self._buffer)

    def _configure(self, source: str | None) -> None:
        sock, v4 = self.sock, self.version == 4
        if self.mechanism == "raw":
            if v4:
                blocked = ~sum(1 << t for t in WANTED_ICMP) & 0xFFFFFFFF
                sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("=I", blocked))
            else:
                words = [0xFFFFFFFF] * 8
                for t in WANTED_ICMPV6:
                    words[t >> 5] &= ~(1 << (t & 31))
                sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, struct.pack("=8I", *words))
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
            if source is not None:
                _bind(sock, self.version, source)
            self.identifier = random.getrandbits(16)
        else:
            if v4:
                sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
                sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
            _bind(sock, self.version, source)      # binding picks the identifier (the socket's "port")
            self.identifier = sock.getsockname()[1]
        sock.setblocking(False)

    # -- the socket's life --
    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> IcmpSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set_ttl(self, ttl: int) -> None:
        set_ttl(self.sock, self.version, ttl)

    def send(self, message: bytes | bytearray, address: str) -> None:
        """Send one ICMP message (the kernel adds the IP header)."""
        send_reporting_once(self.sock, message, (address, 0), self.mechanism != "raw")

    def sender(self, address: str) -> Callable[[bytes | bytearray], object]:
        """:meth:`send` to ``address``, bound once for a hot loop: on a raw socket, which reports no
        errors at send time (no IP_RECVERR), that is the socket's own ``sendto``."""
        destination = (address, 0)
        if self.mechanism == "raw":
            sendto = self.sock.sendto
            return lambda message: sendto(message, destination)
        return lambda message: send_reporting_once(self.sock, message, destination, True)

    # -- reading --
    def read(self) -> Event | None:
        """The next :class:`EchoReply` or :class:`ProbeError` waiting on the socket (the error queue
        too), or None when nothing is waiting. Datagrams that are neither (requests, other types,
        bytes that do not decode) are skipped. Never blocks."""
        raw4 = self.mechanism == "raw" and self.version == 4
        while True:
            if raw4:                     # the pinger's hot path: the IP header comes first
                try:
                    n = self.sock.recv_into(self._buffer)
                except BlockingIOError:
                    return None
                event = read_ipv4_datagram(self._buffer, time.perf_counter_ns(), n)
            else:
                waiting, event = self._read_without_ip_header()
                if not waiting:
                    return None
            if event is not None:
                return event

    def _read_without_ip_header(self) -> tuple[bool, Event | None]:
        """(was a datagram or error waiting, what it means), for sockets that give no IP header."""
        try:
            n, ancdata, _, address = self.sock.recvmsg_into((self._buffer,), ANCILLARY_BYTES)
        except BlockingIOError:
            return self._read_error_queue() if self.mechanism == "datagram" else (False, None)
        except OSError:             # a pending error (IP_RECVERR): its details wait in the error queue
            return self._read_error_queue()
        now = time.perf_counter_ns()
        ttl, _ = read_ancillary(ancdata)
        return True, read_message(bytes(self._view[:n]), 0, self.version, address[0], ttl, now)

    def _read_error_queue(self) -> tuple[bool, ProbeError | None]:
        try:
            data, ancdata, _, address = self.sock.recvmsg(65536, ANCILLARY_BYTES, socket.MSG_ERRQUEUE)
        except BlockingIOError:
            return False, None
        now = time.perf_counter_ns()
        ttl, error = read_ancillary(ancdata)
        if error is None:
            return True, None
        return True, read_error_queue(data, error, address, ttl, self.version, now, "icmp")


class UdpProbeSocket:
    """UDP datagrams to high ports (traceroute's classic probe), and the ICMP errors they cause.

    The errors are read from a raw ICMP socket when this process may open one (``mechanism`` is
    ``"raw"``), else from the UDP socket's own error queue (``"recverr"``, no privilege needed).
    ``sport`` is our source port: a raw socket sees everybody's errors, the quoted port picks ours.
    """

    def __init__(self, version: int = 4, mechanism: str = "auto", source: str | None = None) -> None:
        if mechanism not in ("auto", "raw", "recverr"):
            raise InputError(f"mechanism must be auto, raw or recverr, not {mechanism!r}")
        self.version = version
        self.sock = socket.socket(socket.AF_INET if version == 4 else socket.AF_INET6, socket.SOCK_DGRAM)
        self.icmp: IcmpSocket | None = None
        try:
            _bind(self.sock, version, source)
            self.sport = self.sock.getsockname()[1]
            if mechanism in ("auto", "raw"):
                try:
                    self.icmp = IcmpSocket(version, "raw")
                except PrivilegeError:
                    if mechanism == "raw":
                        raise
            if self.icmp is None:
                if version == 4:
                    self.sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
                    self.sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
                else:
                    self.sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
                    self.sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
            self.sock.setblocking(False)
        except BaseException:
            self.close()
            raise
        self.mechanism = "raw" if self.icmp is not None else "recverr"

    def fileno(self) -> int:
        return self.icmp.fileno() if self.icmp is not None else self.sock.fileno()

    def close(self) -> None:
        self.sock.close()
        if self.icmp is not None:
            self.icmp.close()

    def __enter__(self) -> UdpProbeSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set_ttl(self, ttl: int) -> None:
        set_ttl(self.sock, self.version, ttl)

    def send(self, payload: bytes, address: str, port: int) -> None:
        send_reporting_once(self.sock, payload, (address, port), self.icmp is None)

    def read(self) -> ProbeError | None:
        """The next ICMP error about one of our probes, or None when none is waiting. Never blocks."""
        if self.icmp is not None:
            while True:
                event = self.icmp.read()
                if event is None or (isinstance(event, ProbeError) and event.sport == self.sport):
                    return event
        while True:
            try:
                data, ancdata, _, address = self.sock.recvmsg(65536, ANCILLARY_BYTES, socket.MSG_ERRQUEUE)
            except BlockingIOError:
                with contextlib.suppress(OSError):      # a pending socket error, or a stray datagram: consume it
                    self.sock.recv(65536)
                return None
            now = time.perf_counter_ns()
            ttl, error = read_ancillary(ancdata)
            if error is not None:
                event = read_error_queue(data, error, address, ttl, self.version, now, "udp")
                if event is not None:
                    return event
