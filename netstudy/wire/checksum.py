"""The Internet checksum (RFC 1071) and the pseudo-headers that TCP, UDP and ICMPv6 add to it.

The checksum is the one's-complement of the one's-complement sum of the data taken as 16-bit big-endian
words (RFC 1071 §1). The textbook computes it with a loop over the words, folding carries back in.
``internet_checksum`` gets the same answer with arithmetic instead of a loop (RFC 1071 §2(B), "deferred
carries", taken to its limit): read the whole buffer as ONE big integer N = Σ wᵢ·2^(16i). Since
2^16 ≡ 1 (mod 0xFFFF), N ≡ Σ wᵢ (mod 0xFFFF), and folding carries is exactly reduction mod 0xFFFF — except
that one's-complement arithmetic writes a non-zero multiple of 0xFFFF as 0xFFFF ("negative zero"), not 0.
Python's big integers do the sum and the remainder in C, so no Python loop is left.
"""
from __future__ import annotations

import socket
import struct

from netstudy.errors import BuildError

__all__ = ["ones_complement_sum", "internet_checksum", "internet_checksum_loop", "pseudo_header",
           "pseudo_header_ipv4", "pseudo_header_ipv6", "verify", "fold", "segment_status"]


def ones_complement_sum(data: bytes | bytearray | memoryview) -> int:
    """One's-complement sum of ``data`` as 16-bit big-endian words (odd length: a zero byte is appended)."""
    if len(data) % 2:
        data = bytes(data) + b"\x00"
    n = int.from_bytes(data, "big")
    folded = n % 0xFFFF
    return 0xFFFF if folded == 0 and n else folded


def internet_checksum(data: bytes | bytearray | memoryview, initial: int = 0) -> int:
    """RFC 1071 checksum of ``data``; ``initial`` is a partial sum to add (e.g. a pseudo-header's)."""
    total = ones_complement_sum(data) + initial
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def internet_checksum_loop(data: bytes | bytearray | memoryview) -> int:
    """The textbook loop (RFC 1071 §4.1), word by word: slow, but every step is visible."""
    total = 0
    for i in range(0, len(data) - 1, 2):
        total += (data[i] << 8) + data[i + 1]
    if len(data) % 2:
        total += data[-1] << 8
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def pseudo_header_ipv4(src: bytes, dst: bytes, protocol: int, length: int) -> bytes:
    """The IPv4 pseudo-header: source, destination, zero, protocol, upper-layer length (RFC 793 §3.1)."""
    return src + dst + struct.pack("!BBH", 0, protocol, length)


def pseudo_header_ipv6(src: bytes, dst: bytes, next_header: int, length: int) -> bytes:
    """The IPv6 pseudo-header: source, destination, 32-bit length, 3 zero bytes, next header (RFC 8200 §8.1)."""
    return src + dst + struct.pack("!I3xB", length, next_header)


def pseudo_header(src: str | bytes, dst: str | bytes, protocol: int, length: int) -> bytes:
    """Pseudo-header for either IP version, chosen from the address length (4 or 16 bytes, or text)."""
    if isinstance(src, str):
        family = socket.AF_INET6 if ":" in src else socket.AF_INET
        src, dst = socket.inet_pton(family, src), socket.inet_pton(family, str(dst))
    if isinstance(dst, str):
        raise BuildError(f"pseudo-header: destination {dst!r} is text but the source is bytes; give both alike")
    if len(src) == 16:
        return pseudo_header_ipv6(src, dst, protocol, length)
    return pseudo_header_ipv4(src, dst, protocol, length)


def verify(data: bytes | bytearray | memoryview, initial: int = 0) -> bool:
    """True when ``data`` (checksum field included) sums to all ones, i.e. the checksum is right (RFC 1071 §1)."""
    total = ones_complement_sum(data) + initial
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return total == 0xFFFF


def fold(total: int) -> int:
    """Fold carries back into 16 bits (RFC 1071 §4.1)."""
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def segment_status(segment: bytes, pseudo: bytes, stored: int, complete: bool) -> str:
    """How a TCP/UDP/ICMPv6 checksum stands: ``good``, ``bad``, ``offloaded`` or ``unverified``.

    ``offloaded``: the field holds just the pseudo-header sum. Linux writes that when the network card
    (or, on ``lo`` and veth, nobody) is to finish the sum, so captures of locally sent packets show
    it; it is not an error. ``unverified``: the capture does not hold the whole segment.
    """
    if not complete:
        return "unverified"
    pseudo_sum = ones_complement_sum(pseudo)
    if verify(segment, pseudo_sum):
        return "good"
    if stored == pseudo_sum:
        return "offloaded"
    return "bad"
