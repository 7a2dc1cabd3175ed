"""ICMP echo as bytes, with no socket in sight (sans-I/O): requests out, events in. Ping and traceroute
(``netstudy.icmp``) are built on it, and so can any other program that sends echo requests.

Out: :class:`EchoTemplate` builds one echo request with ``netstudy.wire`` (RFC 792 p.14, RFC 4443
§4.1), then, per probe, patches the sequence number and the send timestamp in place and updates the
checksum from the bytes that changed (RFC 1624 eqn. 3) instead of summing the whole message again.

In: :func:`read_message` turns an ICMP message into an :class:`EchoReply` or a :class:`ProbeError`
(an unreachable or time-exceeded message, matched to our probe through the datagram it quotes,
RFC 792 p.4-6, RFC 4443 §2.4); :func:`read_error_queue` does the same for what the kernel reports
through ``IP_RECVERR`` (ip(7)) when it, not we, read the ICMP error.
"""
from __future__ import annotations

import itertools
import os
import re
import socket
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from netstudy.errors import DecodeError, InputError
from netstudy.wire.checksum import fold, ones_complement_sum
from netstudy.wire.fields import Header
from netstudy.wire.icmp import ECHO_REPLY, ICMP, ICMPEcho, ICMPTimeExceeded, ICMPUnreachable
from netstudy.wire.icmpv6 import ECHO_REPLY as ECHOV6_REPLY
from netstudy.wire.icmpv6 import (
    ICMPv6,
    ICMPv6Echo,
    ICMPv6PacketTooBig,
    ICMPv6ParameterProblem,
    ICMPv6TimeExceeded,
    ICMPv6Unreachable,
)
from netstudy.wire.ipv4 import IPv4
from netstudy.wire.udp import UDP

# iputils puts a `struct timeval` (native byte order: seconds, microseconds) first in the payload and
# fills the rest with the byte's own offset (0x10, 0x11, ...); a payload too short for it carries no
# timestamp, and iputils then prints no times.
TIMEVAL = struct.Struct("=qq")
TIMESTAMP_BYTES = TIMEVAL.size
SEQUENCE_OFFSET = 6          # type, code, checksum (2), identifier (2), then the sequence number
_SEQ = struct.Struct("!H")
# What the timeval's words add to the checksum, modulo 0xFFFF, without reading them back: a number
# written in 16-bit words sums to itself (2**16 ≡ 1), and a word with its two bytes swapped, as native
# little-endian order leaves them for the big-endian checksum, is the word times 256 (2**16 ≡ 1 again).
_TIMEVAL_WEIGHT = 256 if TIMEVAL.pack(1, 0)[0] == 1 else 1


def echo_payload(size: int) -> bytes:
    """The payload iputils sends: room for the timestamp, then the pattern 0x10, 0x11, ... (mod 256)."""
    return bytes(i & 0xFF if i >= TIMESTAMP_BYTES else 0 for i in range(size))


def update_checksum(checksum: int, old_sum: int, new_sum: int) -> int:
    """RFC 1624 eqn. 3: ``HC' = ~(~HC + ~m + m')``, the new checksum from the old one when words whose
    one's-complement sum was ``m`` now sum to ``m'``. No need to read the unchanged bytes again."""
    return ~fold((~checksum & 0xFFFF) + (~old_sum & 0xFFFF) + new_sum) & 0xFFFF


class EchoTemplate:
    """One echo request, built once, then re-stamped for each probe (the pinger's hot path).

    ``request(sequence, wall_ns)`` writes the sequence number and, if the payload has room, the send
    time as a ``struct timeval`` (what tshark shows as "Timestamp from icmp data"), and updates the
    checksum from just those bytes (RFC 1624). It returns the same ``bytearray`` every time.

    ``reply`` (IPv4) is the echo reply the target owes the latest request, to the byte: RFC 792 has it
    return identifier, sequence number and data unchanged, with type 0, so only the type and the
    checksum differ (the type going from 8 to 0 lowers the sum by 0x0800). A datagram equal to it
    needs no further reading.

    IPv6: the checksum covers a pseudo-header with the source address (RFC 4443 §2.3), which the
    kernel knows and fills in itself on ICMPv6 sockets (RFC 3542 §3.1), so it is left at zero here.
    """

    __slots__ = ("version", "identifier", "size", "timestamped", "packet", "reply", "_end", "_unchanged")

    def __init__(self, identifier: int, size: int = 56, version: int = 4) -> None:
        largest = 65507 if version == 4 else 65527     # IPv4: 65535 - 20 - 8; IPv6's length excludes its header
        if not 0 <= size <= largest:
            raise InputError(f"payload size {size} is out of range: 0 <= size <= {largest}")
        self.version, self.identifier, self.size = version, identifier, size
        self.timestamped = size >= TIMESTAMP_BYTES
        header = (ICMPEcho if version == 4 else ICMPv6Echo)(identifier=identifier, sequence=0)
        self.packet = bytearray(header.build(echo_payload(size)))
        self._end = SEQUENCE_OFFSET + 2 + (TIMESTAMP_BYTES if self.timestamped else 0)
        unchanged = bytearray(self.packet)              # the words no probe changes: all but checksum, seq, time
        unchanged[2:4] = b"\x00\x00"
        unchanged[SEQUENCE_OFFSET:self._end] = bytes(self._end - SEQUENCE_OFFSET)
        self._unchanged = ones_complement_sum(unchanged) % 0xFFFF
        self.reply = bytearray(self.packet) if version == 4 else None
        if self.reply is not None:
            self.reply[0] = ECHO_REPLY

    def request(self, sequence: int, wall_ns: int = 0) -> bytearray:
        """The request for probe ``sequence`` (mod 2**16) sent at ``wall_ns`` (``time.time_ns()``).

        This is the pinger's hot path, so :func:`update_checksum` (``HC' = ~(~HC + ~m + m')``) is
        written out in place, with ``~HC + ~m``, what the words that never change sum to, computed once,
        and ``m'`` from the numbers written (sequence, seconds, microseconds) rather than from the bytes.
        Sums are taken modulo 0xFFFF (as in ``checksum.py``: 2**16 ≡ 1), ``~x`` is then ``-x``, and the
        remainder writes zero as 0x0000, as summing the whole message again does."""
        packet, sequence = self.packet, sequence & 0xFFFF
        _SEQ.pack_into(packet, SEQUENCE_OFFSET, sequence)
        total = self._unchanged + sequence
        if self.timestamped:
            seconds, micros = wall_ns // 1_000_000_000, wall_ns // 1000 % 1_000_000
            TIMEVAL.pack_into(packet, 8, seconds, micros)
            total += (seconds + micros) * _TIMEVAL_WEIGHT
        reply = self.reply
        if reply is not None:
            _SEQ.pack_into(packet, 2, -total % 0xFFFF)
            reply[SEQUENCE_OFFSET:self._end] = packet[SEQUENCE_OFFSET:self._end]
            _SEQ.pack_into(reply, 2, (0x0800 - total) % 0xFFFF)      # type 8 -> 0: 0x0800 less to sum
        return packet

    @property
    def length(self) -> int:
        """Bytes of the ICMP message: 8 of header and the payload."""
        return len(self.packet)


def payload_timestamp_ns(message: bytes, offset: int = 0) -> int | None:
    """The send time an echo message carries in its payload (ns since the epoch), or None."""
    start = offset + 8
    if len(message) < start + TIMESTAMP_BYTES:
        return None
    seconds, micros = TIMEVAL.unpack_from(message, start)
    return seconds * 1_000_000_000 + micros * 1000


# -- reading fields fast -----------------------------------------------------------------------------
class FieldReader:
    """Chosen fields of a header, read straight from bytes with the ``struct`` format its field table
    compiles to: one ``unpack_from`` and no header object (what ``Header.parse`` does, minus building
    the object). The pinger's hot path reads every reply's TTL, source, identifier and sequence this
    way; anything unusual still goes through the full codec.

    ``FieldReader(IPv4, "ihl", "ttl", "src")(data)`` -> ``(5, 64, b'\x7f\x00\x00\x01')``: numbers as
    ints, addresses as their raw bytes. Readers add up to read a header and the one after it in the
    same unpack: ``FieldReader(IPv4, "ttl") + FieldReader(ICMPEcho, "type")`` (the first header at its
    fixed size: an IPv4 header without options)."""

    def __init__(self, header: type[Header], *names: str) -> None:
        self._layers: tuple[tuple[type[Header], tuple[str, ...]], ...] = ((header, names),)
        self._compile()

    def __add__(self, other: FieldReader) -> FieldReader:
        joined = FieldReader.__new__(FieldReader)
        joined._layers = self._layers + other._layers
        joined._compile()
        return joined

    def _compile(self) -> None:
        codes: list[str] = []
        picks = []
        for header, names in self._layers:
            sample = header()
            first = len(codes)
            codes += re.findall(r"\d*[a-zA-Z]", sample.struct_format.lstrip("!<>=@"))
            ends = list(itertools.accumulate(struct.calcsize("!" + code) * 8 for code in codes[first:]))
            views = {view.name: view for view in sample.fields()}
            for name in names:
                view = views[name]
                word = next(i for i, end in enumerate(ends) if view.bit_offset < end)
                whole = view.bits == ends[word] - (ends[word - 1] if word else 0)
                picks.append((first + word,
                              None if whole else (ends[word] - view.bit_offset - view.bits, (1 << view.bits) - 1)))
        whole_words = [word for word, cut in picks if cut is None]
        if whole_words == sorted(set(whole_words)) and len(whole_words) == len(picks):
            # whole words, in order: the words not asked for become pad bytes ("x"), and the
            # struct's own unpack_from returns just the fields (no Python in between)
            kept: list[str] = []
            for i, code in enumerate(codes):
                skip = 0 if i in whole_words else struct.calcsize("!" + code)
                if skip and kept and kept[-1].endswith("x"):
                    skip += int(kept.pop()[:-1])
                kept.append(f"{skip}x" if skip else code)
            codes, picks = kept, []
        self.format = "!" + "".join(codes)
        self.read: Callable[..., tuple[Any, ...]]
        unpack_from = struct.Struct(self.format).unpack_from
        self.size = struct.calcsize(self.format)
        if not picks:
            self.read = unpack_from
        else:
            def read(data: bytes | bytearray, offset: int = 0) -> tuple:
                words = unpack_from(data, offset)
                return tuple(words[w] if cut is None else (words[w] >> cut[0]) & cut[1] for w, cut in picks)
            self.read = read

    def __call__(self, data: bytes | bytearray, offset: int = 0) -> tuple:
        """The fields, in the order named (``self.read`` is the same, to bind once in a hot loop)."""
        return self.read(data, offset)


_IPV4_FIELDS = FieldReader(IPv4, "ihl", "ttl", "src")
_ECHO_FIELDS = FieldReader(ICMPEcho, "type", "identifier", "sequence")      # ICMPv6 echo: the same layout
IPV4_TTL_SOURCE = FieldReader(IPv4, "ttl", "src")               # at the same offsets with or without options
# the datagram a raw IPv4 socket reads most while pinging: an IP header without options, then an echo reply
IPV4_PLAIN_START, IPV4_PLAIN_LENGTH = 0x45, 20                # version 4, IHL 5 (32-bit words): 20 bytes
_IPV4_ECHO_FIELDS = IPV4_TTL_SOURCE + FieldReader(ICMPEcho, "type", "identifier", "sequence")


# -- what comes back --------------------------------------------------------------------------------
@dataclass(slots=True)
class EchoReply:
    """An echo reply (ICMP type 0, ICMPv6 type 129) as read: its fields and when it arrived."""

    identifier: int
    sequence: int
    source: str
    ttl: int | None          # of the reply's IP header (IPv6: hop limit); None when the kernel did not say
    size: int                # bytes of the ICMP message, header included (what ping prints)
    received_ns: int         # time.perf_counter_ns() when read
    checksum_ok: bool = True


@dataclass(frozen=True, slots=True)
class ProbeError:
    """An ICMP error about one of our probes, and which probe it was (from the datagram it quotes)."""

    version: int
    icmp_type: int | None    # None: a local error the kernel raised itself (e.g. message too long)
    icmp_code: int
    source: str              # who sent the error (a router, or the host that could not deliver)
    ttl: int | None
    received_ns: int
    destination: str         # where the quoted probe was going
    identifier: int | None = None   # quoted ICMP echo probe
    sequence: int | None = None
    sport: int | None = None        # quoted UDP probe
    dport: int | None = None
    mtu: int | None = None          # fragmentation needed / packet too big
    errno: int = 0                  # local errors only
    quoted: bytes = b""             # what the error quotes: the probe's IP datagram (cut short) from a raw
                                    # socket; from the error queue, the probe's ICMP message or UDP payload

    @property
    def text(self) -> str:
        """How iputils ping words it: ``Time to live exceeded``, ``Destination Host Unreachable``..."""
        return error_text(self.version, self.icmp_type, self.icmp_code, self.mtu, self.errno)


_UNREACH4 = ["Destination Net Unreachable", "Destination Host Unreachable", "Destination Protocol Unreachable",
             "Destination Port Unreachable", "Frag needed and DF set (mtu = {mtu})", "Source Route Failed",
             "Destination Net Unknown", "Destination Host Unknown", "Source Host Isolated",
             "Destination Net Prohibited", "Destination Host Prohibited",
             "Destination Net Unreachable for Type of Service", "Destination Host Unreachable for Type of Service",
             "Packet filtered", "Precedence Violation", "Precedence Cutoff"]
_UNREACH6 = ["No route", "Administratively prohibited", "Beyond scope", "Address unreachable", "Port unreachable",
             "Source address failed ingress/egress policy", "Reject route to destination"]


def error_text(version: int, icmp_type: int | None, code: int, mtu: int | None = None, errno: int = 0) -> str:
    """The words iputils ping prints after ``From ADDR icmp_seq=N`` for an ICMP error."""
    if icmp_type is None:
        return f"local error: {_strerror(errno)}" + (f", mtu={mtu}" if mtu else "")
    if version == 4:
        if icmp_type == 3:
            return (_UNREACH4[code].format(mtu=mtu or 0) if code < len(_UNREACH4)
                    else f"Dest Unreachable, Bad Code: {code}")
        if icmp_type == 11:
            return {0: "Time to live exceeded", 1: "Frag reassembly time exceeded"}.get(
                code, f"Time exceeded, Bad Code: {code}")
        if icmp_type == 12:
            return f"Parameter problem: pointer = {code}"
        return {4: "Source Quench", 5: "Redirect"}.get(icmp_type, f"Bad ICMP type: {icmp_type}")
    if icmp_type == 1:
        return "Destination unreachable: " + (_UNREACH6[code] if code < len(_UNREACH6) else f"Unknown code {code}")
    if icmp_type == 2:
        return f"Packet too big: mtu={mtu}"
    if icmp_type == 3:
        return "Time exceeded: " + {0: "Hop limit", 1: "Defragmentation failure"}.get(code, f"code {code}")
    if icmp_type == 4:
        return "Parameter problem: " + {0: "Wrong header field", 1: "Unknown header",
                                        2: "Unknown option"}.get(code, f"code {code}")
    return f"unknown icmp type: {icmp_type}"


def _strerror(errno: int) -> str:
    return os.strerror(errno).lower() if errno else "unknown"


def _verifies(data: bytes | bytearray, start: int = 0, end: int | None = None) -> bool:
    """RFC 1071 §1: a message with its checksum in sums to all ones. Read as one big number it is then a
    non-zero multiple of 0xFFFF (2**16 ≡ 1 modulo 0xFFFF, see checksum.py; an odd length is padded with
    a zero byte, which multiplies the number by 256, prime to 0xFFFF): one big-integer remainder."""
    total = int.from_bytes(data[start:end], "big")
    return total != 0 and total % 0xFFFF == 0


_ERRORS4 = (ICMPUnreachable, ICMPTimeExceeded)
_ERRORS6 = (ICMPv6Unreachable, ICMPv6TimeExceeded, ICMPv6PacketTooBig, ICMPv6ParameterProblem)


def read_ipv4_datagram(data: bytes | bytearray, received_ns: int,
                       end: int | None = None) -> EchoReply | ProbeError | None:
    """What a raw IPv4 socket read into ``data[:end]``: the IP header (its TTL and source read with
    :class:`FieldReader`), then the ICMP message, checksum checked (the kernel hands raw sockets
    unchecked messages). The common case, an echo reply after an IP header without options, is read
    in one unpack of both headers, straight from the socket's buffer; the rest from a copy."""
    if end is None:
        end = len(data)
    if end >= _IPV4_ECHO_FIELDS.size and data[0] == IPV4_PLAIN_START:
        ttl, src, kind, identifier, sequence = _IPV4_ECHO_FIELDS(data)
        if kind == ECHO_REPLY:
            return EchoReply(identifier, sequence, socket.inet_ntoa(src), ttl, end - IPV4_PLAIN_LENGTH,
                             received_ns, _verifies(data, IPV4_PLAIN_LENGTH, end))
    if end < 20:
        return None
    data = bytes(data[:end])
    ihl, ttl, src = _IPV4_FIELDS(data)
    return read_message(data, ihl * 4, 4, socket.inet_ntoa(src), ttl, received_ns, verify_checksum=True)


def read_message(data: bytes, offset: int, version: int, source: str, ttl: int | None, received_ns: int,
                 verify_checksum: bool = False, end: int | None = None) -> EchoReply | ProbeError | None:
    """Read the ICMP (``version`` 4) or ICMPv6 message in ``data[offset:end]``: an echo reply, an error
    about a probe, or None (anything else: requests, other types, bytes that do not decode).

    ``verify_checksum``: check the ICMP checksum (raw IPv4 sockets see messages before the kernel
    checks them; ping sockets and ICMPv6 sockets only get messages that passed)."""
    if end is None:
        end = len(data)
    try:
        if end - offset >= 8 and data[offset] == (ECHO_REPLY if version == 4 else ECHOV6_REPLY):
            _, identifier, sequence = _ECHO_FIELDS(data, offset)              # the common case, read directly
            ok = _verifies(data, offset, end) if verify_checksum else True
            return EchoReply(identifier, sequence, source, ttl, end - offset, received_ns, ok)
        message = (ICMP if version == 4 else ICMPv6).parse(data, offset, end)
    except (DecodeError, IndexError):
        return None
    if isinstance(message, _ERRORS4 if version == 4 else _ERRORS6):
        mtu = getattr(message, "next_hop_mtu", None) or getattr(message, "mtu", None)
        kind, code = data[offset], data[offset + 1]          # an ICMP message starts with its type and code
        return quoted_probe_error(message.payload, version, kind, code, source, ttl, received_ns, mtu)
    return None


def quoted_probe_error(quoted: bytes, version: int, icmp_type: int | None, code: int, source: str,
                       ttl: int | None, received_ns: int, mtu: int | None = None,
                       errno: int = 0) -> ProbeError | None:
    """A :class:`ProbeError` from the datagram an ICMP error quotes (its IP header, then at least 8
    bytes of what followed: enough for an echo's identifier and sequence, or UDP's ports)."""
    from netstudy.wire.decode import decode_ip
    packet = decode_ip(quoted)
    if not packet.layers or packet.layers[0].NAME not in ("IPv4", "IPv6"):
        return None
    ip: Any = packet.layers[0]              # header fields come from the field tables: typed as Any
    destination = ip.dst
    echo: Any = packet.get(ICMPEcho) or packet.get(ICMPv6Echo)
    udp: Any = packet.get(UDP)
    return ProbeError(version, icmp_type, code, source, ttl, received_ns, destination,
                      identifier=echo.identifier if echo is not None else None,
                      sequence=echo.sequence if echo is not None else None,
                      sport=udp.sport if udp is not None else None,
                      dport=udp.dport if udp is not None else None, mtu=mtu or None, errno=errno,
                      quoted=bytes(quoted))


# -- the kernel's error queue (IP_RECVERR) ------------------------------------------------------------
# struct sock_extended_err (linux/errqueue.h): errno, origin, type, code, pad, info, data; then the
# address of the node that sent the ICMP error (SO_EE_OFFENDER) as a sockaddr.
SOCK_EXTENDED_ERR = struct.Struct("=IBBBBII")
SO_EE_ORIGIN_LOCAL, SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6 = 1, 2, 3
IP_RECVERR, IPV6_RECVERR = 11, 25
IP_TTL, IPV6_HOPLIMIT = 2, 52


def read_ancillary(ancdata: list[tuple[int, int, bytes]]) -> tuple[int | None, bytes | None]:
    """From ``recvmsg`` ancillary data: the TTL/hop limit (IP_RECVTTL, IPV6_RECVHOPLIMIT) and the
    extended error (IP_RECVERR, IPV6_RECVERR), either None when absent."""
    ttl = error = None
    for level, kind, data in ancdata:
        if (level, kind) in ((socket.IPPROTO_IP, IP_TTL), (socket.IPPROTO_IPV6, IPV6_HOPLIMIT)) and len(data) >= 4:
            ttl = int.from_bytes(data[:4], sys.byteorder)
        elif (level, kind) in ((socket.IPPROTO_IP, IP_RECVERR), (socket.IPPROTO_IPV6, IPV6_RECVERR)):
            error = data
    return ttl, error


def _offender(sockaddr: bytes) -> str:
    if len(sockaddr) >= 8 and struct.unpack_from("=H", sockaddr)[0] == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, sockaddr[4:8])
    if len(sockaddr) >= 24 and struct.unpack_from("=H", sockaddr)[0] == socket.AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, sockaddr[8:24])
    return ""


def read_error_queue(data: bytes, extended_error: bytes, address: tuple, ttl: int | None, version: int,
                     received_ns: int, probe: str = "icmp") -> ProbeError | None:
    """A :class:`ProbeError` from one ``recvmsg(..., MSG_ERRQUEUE)``: ``data`` is our original
    datagram's payload (the echo request for ``probe="icmp"``, the UDP payload for ``"udp"``),
    ``address`` where it was going (with the UDP port), ``extended_error`` the sock_extended_err."""
    if len(extended_error) < SOCK_EXTENDED_ERR.size:
        return None
    errno, origin, icmp_type, code, _, info, _ = SOCK_EXTENDED_ERR.unpack_from(extended_error)
    source = _offender(extended_error[SOCK_EXTENDED_ERR.size:]) or address[0]
    kind: int | None = icmp_type
    if origin == SO_EE_ORIGIN_LOCAL:
        kind, code = None, 0
    elif origin not in (SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6):
        return None
    mtu = info if (version, icmp_type, code) in ((4, 3, 4), (6, 2, 0)) or kind is None else None
    if probe == "udp":
        return ProbeError(version, kind, code, source, ttl, received_ns, address[0], dport=address[1],
                          mtu=mtu or None, errno=errno, quoted=bytes(data))
    try:
        echo: Any = (ICMPEcho if version == 4 else ICMPv6Echo).parse(data)
    except DecodeError:
        return None
    return ProbeError(version, kind, code, source, ttl, received_ns, address[0], identifier=echo.identifier,
                      sequence=echo.sequence, mtu=mtu or None, errno=errno, quoted=bytes(data))
