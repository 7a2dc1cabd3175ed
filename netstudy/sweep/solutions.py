"""Reference answers to notebook 03's exercises (try them yourself first). The notebook's solution cells
pass these to the checks; they never replace a name the student defined."""
from __future__ import annotations

import socket
import struct


def arp_request(sender_mac: str, sender_ip: str, target_ip: str) -> bytes:
    """Exercise 1: a broadcast who-has, by hand with struct (RFC 826; EtherType 0x0806)."""
    mac = bytes.fromhex(sender_mac.replace(":", ""))
    ethernet = b"\xff" * 6 + mac + struct.pack("!H", 0x0806)
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, socket.inet_aton(sender_ip), bytes(6),
                      socket.inet_aton(target_ip))
    return ethernet + arp


def guess_initial_ttl(ttl: int) -> tuple[int, int]:
    """Exercise 2: the nearest usual initial TTL at or above ``ttl``, and how many routers took one off."""
    initial = next(start for start in (64, 128, 255) if ttl <= start)
    return initial, initial - ttl
