"""Reference answers to notebooks/02_ping.ipynb's exercises (try them yourself first). The notebook shows
them on demand with ``netstudy.exercises.reveal``; they never replace a name the student defined."""
from __future__ import annotations

import math
import struct


def echo_request(identifier: int, sequence: int, payload: bytes) -> bytes:
    """Exercise 1: an ICMP echo request (RFC 792) with its Internet checksum (RFC 1071)."""
    message = struct.pack("!BBHHH", 8, 0, 0, identifier, sequence) + payload
    padded = message + b"\0" * (len(message) % 2)          # an odd length: a zero byte at the END
    total = sum(struct.unpack(f"!{len(padded) // 2}H", padded))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)             # fold the carries back in
    return message[:2] + struct.pack("!H", ~total & 0xFFFF) + message[4:]


def statistics(rtts: list[float]) -> tuple[float, float, float, float]:
    """Exercise 2: iputils' min/avg/max/mdev; mdev is sqrt(mean(x²) - mean(x)²), dividing by n."""
    mean = sum(rtts) / len(rtts)
    mdev = math.sqrt(max(sum(x * x for x in rtts) / len(rtts) - mean * mean, 0.0))
    return min(rtts), mean, max(rtts), mdev


def initial_ttl_and_routers(ttl: int) -> tuple[int, int]:
    """Exercise 3: the smallest usual initial TTL (64, 128, 255) not below the arriving one, and how many
    routers each took one off."""
    initial = next(start for start in (64, 128, 255) if start >= ttl)
    return initial, initial - ttl
