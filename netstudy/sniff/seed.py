"""The course's original packet sniffer, kept as notebook 05's first lesson: an ``AF_PACKET`` raw socket
and every header read at a fixed offset with ``struct``.

    sudo python -m netstudy.sniff.seed            # Ctrl-C to stop

Ethernet is 14 bytes, so IPv4 starts at 14; the seed then takes the transport header at 14 + 20 = 34,
as if an IPv4 header were always 20 bytes. It is only without options: the header length field (IHL,
RFC 791 §3.1) says how long it really is, and a datagram with options (Record Route, Timestamp, Router
Alert...) shifts every later field, so the seed prints wrong ports, flags and ICMP types. Standard
library only.
"""
from __future__ import annotations

import socket
import struct

ETH_P_ALL = 0x0003
PROTOCOLS = {1: "ICMP", 6: "TCP", 17: "UDP"}


def ethernet(frame: bytes) -> dict:
    dst, src, ethertype = struct.unpack("!6s6sH", frame[:14])
    return {"dst": dst.hex(":"), "src": src.hex(":"), "ethertype": ethertype}


def ipv4(frame: bytes) -> dict:
    version_ihl, tos, total_length, ident, fragment, ttl, protocol, checksum, src, dst = struct.unpack(
        "!BBHHHBBH4s4s", frame[14:34])
    return {"version": version_ihl >> 4, "ttl": ttl, "protocol": protocol, "total_length": total_length,
            "src": socket.inet_ntoa(src), "dst": socket.inet_ntoa(dst)}


def transport(frame: bytes, protocol: int) -> dict:
    """The ICMP, TCP or UDP header, read at offset 34: right only for a 20-byte IPv4 header."""
    if protocol == 1:
        kind, code, checksum = struct.unpack("!BBH", frame[34:38])
        return {"type": kind, "code": code}
    if protocol == 6:
        src_port, dst_port, seq, ack, offset_flags = struct.unpack("!HHLLH", frame[34:48])
        return {"src_port": src_port, "dst_port": dst_port, "seq": seq, "ack": ack, "flags": offset_flags & 0x3F}
    if protocol == 17:
        src_port, dst_port, length, checksum = struct.unpack("!HHHH", frame[34:42])
        return {"src_port": src_port, "dst_port": dst_port, "length": length}
    return {}


def describe(frame: bytes) -> dict:
    """What the seed prints of one frame: its Ethernet, IPv4 and transport fields."""
    fields = {"ethernet": ethernet(frame)}
    if fields["ethernet"]["ethertype"] == 0x0800:
        fields["ipv4"] = ipv4(frame)
        fields["transport"] = transport(frame, fields["ipv4"]["protocol"])
    return fields


def main() -> None:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(ETH_P_ALL))
    try:
        while True:
            frame, _ = sock.recvfrom(65535)
            fields = describe(frame)
            print(fields["ethernet"])
            if "ipv4" in fields:
                print("   ", PROTOCOLS.get(fields["ipv4"]["protocol"], "?"), fields["ipv4"], fields["transport"])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()


if __name__ == "__main__":
    main()
