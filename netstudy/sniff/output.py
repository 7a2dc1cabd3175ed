"""What ``netstudy sniff`` prints, in tcpdump's shape: pure functions of frames and statistics.

- :func:`packet_line`: ``12:04:05.123456 IP 127.0.0.1.53 > 127.0.0.1.40000: UDP, length 45`` — tcpdump's
  default timestamp (local time of day, microseconds; nanoseconds with ``nano``), then the decoder's
  one-line summary (``netstudy.wire.decode``); on ``any``, the direction as ``tcpdump -i any`` writes it.
- :func:`dissection`: ``-v``, every layer's fields (``Packet.describe``), indented under the line.
- :func:`hex_lines`: ``-X``, the frame in ``tcpdump -XX``'s layout (``netstudy.show.hexdump_text``).
- :func:`listening_line`, :func:`reading_line`: the first line on stderr; :func:`end_lines`: the last ones
  ("N packets captured", "N packets received by filter", "N packets dropped by kernel").
"""
from __future__ import annotations

import functools
import socket
import time

from netstudy.show.hexdump import hexdump_text
from netstudy.sniff.core import Captured, CaptureStats
from netstudy.wire.decode import Packet
from netstudy.wire.link import SLL2

# pcap link types as tcpdump names them (DLT name, description)
LINKTYPE_NAMES = {1: ("EN10MB", "Ethernet"), 113: ("LINUX_SLL", "Linux cooked v1"),
                  276: ("LINUX_SLL2", "Linux cooked v2"), 101: ("RAW", "Raw IP"), 0: ("NULL", "BSD loopback")}
DIRECTION_MARKS = {0: "In", 1: "B", 2: "M", 3: "P", 4: "Out"}


def timestamp(timestamp_ns: int, nano: bool = False) -> str:
    """The time of day as tcpdump prints it by default: ``HH:MM:SS.ffffff`` in local time (nine
    digits with ``nano``, as ``--time-stamp-precision=nano``)."""
    seconds, fraction = divmod(timestamp_ns, 1_000_000_000)
    clock = time.strftime("%H:%M:%S", time.localtime(seconds))
    return f"{clock}.{fraction:09d}" if nano else f"{clock}.{fraction // 1000:06d}"


def packet_line(frame: Captured, packet: Packet | None = None, nano: bool = False) -> str:
    """One frame as tcpdump's one-liner; ``packet`` is its decoding if already made. A Linux cooked v2
    frame (``-i any``) starts with its interface and direction, as tcpdump writes them (``lo    In  IP ...``)."""
    packet = packet or frame.decode()
    summary = packet.summary()
    link = packet.layers[0] if packet.spans else None
    if isinstance(link, SLL2):
        summary = f"{interface_name(link.interface_index):<6}{DIRECTION_MARKS.get(link.packet_type, '?'):<4}{summary}"
    return f"{timestamp(frame.timestamp_ns, nano)} {summary}"


@functools.cache
def interface_name(index: int) -> str:
    """The name of interface ``index`` on this host (its number when it has gone)."""
    try:
        return socket.if_indextoname(index)
    except OSError:
        return str(index)


def dissection(packet: Packet) -> str:
    """``-v``: every layer's fields, one a line, indented under the packet's line."""
    return "\n".join("    " + line for line in packet.describe().splitlines())


def hex_lines(packet: Packet) -> str:
    """``-X``: the whole frame, 16 bytes a line, hex and ASCII (``tcpdump -XX``'s layout, tab-indented)."""
    return "\n".join("\t" + line for line in hexdump_text(packet, layers=False).splitlines())


def _linktype(linktype: int) -> str:
    name, description = LINKTYPE_NAMES.get(linktype, (str(linktype), "unknown"))
    return f"link-type {name} ({description})"


def listening_line(interface: str, linktype: int, snaplen: int, mechanism: str) -> str:
    """tcpdump's first line on stderr, and the capture mechanism after it."""
    return (f"listening on {interface}, {_linktype(linktype)}, snapshot length {snaplen} bytes "
            f"({mechanism})")


def reading_line(path: str, linktype: int, snaplen: int) -> str:
    return f"reading from file {path}, {_linktype(linktype)}, snapshot length {snaplen}"


def end_lines(stats: CaptureStats) -> list[str]:
    """The statistics tcpdump prints when it stops, word for word; a file has no kernel counters."""
    lines = [f"{stats.captured} packet{'s' if stats.captured != 1 else ''} captured"]
    if stats.received is not None:
        lines.append(f"{stats.received} packet{'s' if stats.received != 1 else ''} received by filter")
        lines.append(f"{stats.dropped} packet{'s' if stats.dropped != 1 else ''} dropped by kernel")
    return lines
