"""A chunk of records decoded column by column with numpy, each value as ``netstudy.wire.decode`` finds it.

Every record of the chunk is read at once, one field at a time: the byte at a per-record offset is one
fancy index into the chunk's buffer (``Bytes``), and the offsets are arrays too, so an IPv4 header's
length or an 802.1Q tag moves what follows it row by row. The headers read this way are the ones most
captures are made of, checked as their ``_locate`` checks them (``netstudy.wire``): Ethernet (802.1Q
tags), Linux cooked v1/v2, BSD loopback and raw IP; IPv4 (options, fragments), IPv6 (no extension
header); TCP, UDP, ICMP and ICMPv6. An application header above TCP or UDP (DNS) is checked per record
by its own ``_locate``. Every other record (ARP, IPv6 extension headers, tunnels, anything malformed
or cut short, other link types) is decoded by ``netstudy.wire.decode`` and its ``row_values()``: the
columns are the same either way (tests/test_stats_columns.py compares them with ``pcap.to_frame``).
"""
from __future__ import annotations

import socket
from typing import Any

from netstudy.errors import DecodeError
from netstudy.pcap import LinkType
from netstudy.stats.columns.records import Chunk
from netstudy.wire.arp import ARP
from netstudy.wire.decode import ROW_COLUMNS, decode
from netstudy.wire.fields import LOCATE
from netstudy.wire.icmp import ICMP
from netstudy.wire.icmpv6 import ICMPv6
from netstudy.wire.ipv4 import IPv4
from netstudy.wire.ipv6 import IPv6, IPv6Fragment
from netstudy.wire.numbers import ETHERTYPE_NEXT, IP_PROTOCOL_NEXT, TCP_PORT_NEXT, UDP_PORT_NEXT
from netstudy.wire.tcp import FLAG_STRINGS, TCP
from netstudy.wire.udp import UDP

# the columns to_frame has (but its summary) and the ones only this reader adds, in the table's order
SHARED_COLUMNS = ("time", "length", "caplen", "truncated", "interface", *ROW_COLUMNS[1:-1])
EXTRA_COLUMNS = ("ethertype", "ip_proto", "tcp_seq", "tcp_ack", "payload_length", "fragment")
INTEGER_COLUMNS = ("vlan", "sport", "dport", "icmp_type", "icmp_code", "ttl", "ip_proto", "tcp_seq", "tcp_ack",
                   "payload_length")
TEXT_COLUMNS = ("src_mac", "dst_mac", "src", "dst", "protocol", "tcp_flags")
_ROW_INDEX = {name: i for i, name in enumerate(ROW_COLUMNS)}

VLAN_TAGS = (0x8100, 0x88A8)        # what ETHERTYPE_NEXT hands to netstudy.wire.ethernet.VLAN
# the link headers read here: LINKTYPE_ -> (header bytes, where its EtherType is); raw IP has none
_LINK_HEADERS = {LinkType.ETHERNET: (14, 12), LinkType.LINUX_SLL: (16, 14), LinkType.LINUX_SLL2: (20, 0)}
_RAW_IP = (LinkType.RAW, LinkType.IPV4, LinkType.IPV6)
_NULL_IPV6_FAMILIES = (10, 24, 28, 30)   # AF_INET6 of Linux, the BSDs, macOS (netstudy.wire.link.Null)
# what follows an IP header, as IP_PROTOCOL_NEXT names it: read here, or left to netstudy.wire
NOTHING, TCP_KIND, UDP_KIND, ICMP_KIND, ICMPV6_KIND, OTHER = range(6)


PADDING = 128       # bytes after a chunk's buffer: the furthest any field is read past a record's end


class Bytes:
    """Reading the same field of many records: byte ``rel`` of record ``i`` is ``buf[start[i] + rel]``.
    A field is read before the record is known to hold it (the caller masks what it does not): the
    buffer is padded so that no read goes past it (link header, 802.1Q tags and IPv4 options end inside
    the record, then at most 60 + 14 bytes are read past them)."""

    def __init__(self, buf: Any, start: Any) -> None:
        self.buf, self.start = buf, start

    def u8(self, rel: Any) -> Any:
        import numpy as np

        return self.buf[self.start + rel].astype(np.int64)

    def u16(self, rel: Any) -> Any:
        return self.u8(rel) << 8 | self.u8(rel + 1)

    def u32(self, rel: Any) -> Any:
        return self.u16(rel) << 16 | self.u16(rel + 2)

    def block(self, rel: Any, width: int) -> Any:
        """``width`` bytes of every record from ``rel`` on, as a (records, width) uint8 array."""
        import numpy as np

        return self.buf[(self.start + rel)[:, None] + np.arange(width)]


class Table:
    """The chunk's columns as they fill: numpy values and, for the nullable ones, where a value is."""

    def __init__(self, n: int, numbers: Numbers) -> None:
        import numpy as np

        self.numbers = numbers

        self.ints = {name: np.zeros(n, np.int64) for name in INTEGER_COLUMNS}
        self.has = {name: np.zeros(n, bool) for name in INTEGER_COLUMNS}
        self.texts = {name: np.full(n, None, dtype=object) for name in TEXT_COLUMNS}
        self.malformed = np.zeros(n, bool)
        self.fragment = np.zeros(n, bool)
        self.ethertype = np.zeros(n, np.int64)

    def put(self, name: str, rows: Any, values: Any) -> None:
        self.ints[name][rows] = values
        self.has[name][rows] = True


class Numbers:
    """What ``netstudy.wire``'s dispatch tables say now (modules add to them as they are imported), as
    numpy lookup tables: read once per capture."""

    def __init__(self) -> None:
        import numpy as np

        read = {TCP: TCP_KIND, UDP: UDP_KIND, ICMP: ICMP_KIND, ICMPv6: ICMPV6_KIND}
        # per IP protocol number, what follows the IP header as this module reads it
        self.transport = np.array([NOTHING if cls is None else read.get(cls, OTHER) for cls in IP_PROTOCOL_NEXT])
        self.protocol_names = {code: cls.PROTOCOL or cls.NAME for cls, code in read.items()}
        # per port: does an application header (DNS) sit above TCP or UDP there?
        self.above = {TCP_KIND: (TCP_PORT_NEXT, np.array([cls is not None for cls in TCP_PORT_NEXT])),
                      UDP_KIND: (UDP_PORT_NEXT, np.array([cls is not None for cls in UDP_PORT_NEXT]))}
        # per ICMP / ICMPv6 type, the bytes a message needs not to be cut (its class's fixed part)
        self.minimum = {code: np.array([max(1, family.BY_TYPE.get(kind, family).MIN_LENGTH) for kind in range(256)])
                        for code, family in ((ICMP_KIND, ICMP), (ICMPV6_KIND, ICMPv6))}
        self.flags = np.array(FLAG_STRINGS, dtype=object)
        self.arp = [ethertype for ethertype, cls in enumerate(ETHERTYPE_NEXT) if cls is ARP]


def decode_chunk(chunk: Chunk, numbers: Numbers) -> Table:
    """The columns of every record of ``chunk``: vectorised where the headers allow, per record elsewhere."""
    import numpy as np

    n = len(chunk.start)
    table = Table(n, numbers)
    if not n:
        return table
    buf = np.frombuffer(chunk.buf + bytes(PADDING), np.uint8)
    done = np.zeros(n, bool)                            # rows whose every column is filled here
    network, ethertype, mac = _link(Bytes(buf, chunk.start), chunk, table)
    for version, ethertype_of in ((4, 0x0800), (6, 0x86DD)):
        rows = np.flatnonzero((network >= 0) & (ethertype == ethertype_of))
        if len(rows):
            done[rows] = _ip(version, rows, Bytes(buf, chunk.start[rows]), network[rows], chunk, table)
    rows = np.flatnonzero((network >= 0) & np.isin(ethertype, numbers.arp))
    if len(rows):
        done[rows] = _arp(rows, Bytes(buf, chunk.start[rows]), network[rows], chunk, table)
    ethernet = np.flatnonzero(done & mac)
    if len(ethernet):
        at = Bytes(buf, chunk.start[ethernet])
        table.texts["dst_mac"][ethernet] = _texts(at.u16(0) << 32 | at.u32(2), _mac_text)
        table.texts["src_mac"][ethernet] = _texts(at.u16(6) << 32 | at.u32(8), _mac_text)
    for row in np.flatnonzero(~done).tolist():
        _decode_row(chunk, row, table)
    return table


def _link(at: Bytes, chunk: Chunk, table: Table) -> tuple[Any, Any, Any]:
    """Each record's link header(s): where the network header starts (-1: not read here), the EtherType
    of what it holds (into the table, 0 when none), and whether it has Ethernet addresses; 802.1Q tags
    after it are walked, the last tag's VLAN id kept (as the row keeps the innermost)."""
    import numpy as np

    n, caplen, linktype = len(chunk.start), chunk.caplen, chunk.linktype
    network = np.full(n, -1, np.int64)
    ethertype = np.zeros(n, np.int64)
    for kind, (size, where) in _LINK_HEADERS.items():
        rows = linktype == kind
        ethertype = np.where(rows, at.u16(where), ethertype)
        network = np.where(rows & (caplen >= size), size, network)
    rows = linktype == LinkType.NULL
    if rows.any():
        family = at.u32(0)
        swapped = (family & 0xFF) << 24 | (family & 0xFF00) << 8 | (family >> 8 & 0xFF00) | family >> 24
        family = np.where(family < 0x10000, family, swapped)       # the capturing host's byte order
        null_type = np.where(family == 2, 0x0800, np.where(np.isin(family, _NULL_IPV6_FAMILIES), 0x86DD, 0))
        ethertype = np.where(rows, null_type, ethertype)
        network = np.where(rows & (caplen >= 4) & (null_type != 0), 4, network)
    rows = np.isin(linktype, _RAW_IP)
    if rows.any():
        ethertype = np.where(rows, np.where(at.u8(0) >> 4 == 6, 0x86DD, 0x0800), ethertype)
        network = np.where(rows & (caplen >= 1), 0, network)
    vlan = np.full(n, -1, np.int64)
    tagged = (network >= 0) & np.isin(ethertype, VLAN_TAGS)
    while tagged.any():                                  # 802.1Q / 802.1ad: 4 bytes each, then an EtherType
        short = tagged & (caplen < network + 4)
        network = np.where(short, -1, network)
        tagged &= ~short
        vlan = np.where(tagged, at.u16(network) & 0xFFF, vlan)
        ethertype = np.where(tagged, at.u16(network + 2), ethertype)
        network = np.where(tagged, network + 4, network)
        tagged &= np.isin(ethertype, VLAN_TAGS)
    known = network >= 0
    table.ethertype[:] = np.where(known, ethertype, 0)
    table.put("vlan", np.flatnonzero(known & (vlan >= 0)), vlan[known & (vlan >= 0)])
    return network, ethertype, linktype == LinkType.ETHERNET


def _ip(version: int, rows: Any, at: Bytes, off: Any, chunk: Chunk, table: Table) -> Any:
    """IPv4 (RFC 791 §3.1) or IPv6 (RFC 8200 §3) headers at ``off`` of records ``rows``, and what they
    carry; returns which of the rows are done (checked as IPv4._locate / IPv6._locate check them)."""
    import numpy as np

    caplen = chunk.caplen[rows]
    first = at.u8(off)
    if version == 4:
        hlen, total, fragment = (first & 0xF) * 4, at.u16(off + 2), at.u16(off + 6)
        ok = (caplen - off >= 20) & (first >> 4 == 4) & (hlen >= 20) & (off + hlen <= caplen) & \
             ((total >= hlen) | (total == 0))
        declared = np.where(total == 0, caplen, off + total)         # 0: left to the NIC (offload)
        ttl, protocol, transport = at.u8(off + 8), at.u8(off + 9), off + hlen
        later = (fragment & 0x1FFF) != 0                              # no transport header in it
        table.fragment[rows] = ok & ((fragment & 0x3FFF) != 0)
        src, dst = _texts(at.u32(off + 12), _ipv4_text), _texts(at.u32(off + 16), _ipv4_text)
    else:
        payload = at.u16(off + 4)
        ok = (caplen - off >= 40) & (first >> 4 == 6)
        declared = np.where(payload == 0, caplen, off + 40 + payload)  # 0: a jumbogram, or offload
        ttl, protocol, transport = at.u8(off + 7), at.u8(off + 6), off + 40
        later = np.zeros(len(rows), bool)
        src, dst = _texts16(at.block(off + 8, 16)), _texts16(at.block(off + 24, 16))
    names = table.numbers.protocol_names
    kind = np.where(later, NOTHING, table.numbers.transport[protocol])
    ok &= kind != OTHER
    end = np.minimum(declared, caplen)                                # the datagram's bytes in the capture
    done = np.zeros(len(rows), bool)
    for code, read in ((NOTHING, None), (TCP_KIND, _tcp), (UDP_KIND, _udp), (ICMP_KIND, _icmp),
                       (ICMPV6_KIND, _icmp)):
        mine = np.flatnonzero(ok & (kind == code))
        if not len(mine):
            continue
        # the protocol column: the transport's name (an application header read above it overwrites it)
        table.texts["protocol"][rows[mine]] = names[code] if code else (IPv4 if version == 4 else IPv6).NAME
        done[mine] = True if read is None else \
            read(code, rows[mine], Bytes(at.buf, at.start[mine]), transport[mine], end[mine], declared[mine],
                 chunk, table)
    table.put("ip_proto", rows[ok], protocol[ok])
    table.put("ttl", rows[done], ttl[done])
    table.texts["src"][rows[done]] = src[done]
    table.texts["dst"][rows[done]] = dst[done]
    return done


def _arp(rows: Any, at: Bytes, off: Any, chunk: Chunk, table: Table) -> Any:
    """ARP packets for IPv4 over Ethernet (RFC 826; sizes 6 and 4, as ARP._locate picks ARP): the sender's
    and target's IPv4 addresses; returns which rows are done."""
    sizes, hardware = at.u16(off + 4), at.u16(off)
    ok = (chunk.caplen[rows] - off >= 28) & (sizes == 0x0604) & (hardware != 19)    # 19: ATM ARP
    mine = rows[ok]
    table.texts["src"][mine] = _texts(at.u32(off + 14)[ok], _ipv4_text)
    table.texts["dst"][mine] = _texts(at.u32(off + 24)[ok], _ipv4_text)
    table.texts["protocol"][mine] = ARP.PROTOCOL or ARP.NAME
    return ok


def _tcp(code: int, rows: Any, at: Bytes, off: Any, end: Any, declared: Any, chunk: Chunk, table: Table) -> Any:
    """TCP headers (RFC 9293 §3.1): ports, sequence numbers, flags as tcpdump spells them."""
    import numpy as np

    offset_byte = at.u8(off + 12)
    hlen = (offset_byte >> 4) * 4
    ok = (end - off >= 20) & (hlen >= 20) & (off + hlen <= end)
    sport, dport = at.u16(off), at.u16(off + 2)
    table.put("tcp_seq", rows[ok], at.u32(off + 4)[ok])
    table.put("tcp_ack", rows[ok], at.u32(off + 8)[ok])
    table.put("payload_length", rows[ok], (declared - off - hlen)[ok])
    flags = table.numbers.flags[(offset_byte & 1) << 8 | at.u8(off + 13)]
    table.texts["tcp_flags"][rows[ok]] = flags[ok]
    return _ports(TCP_KIND, ok, rows, sport, dport, off + hlen, end, np.zeros(len(rows), bool), chunk, table)


def _udp(code: int, rows: Any, at: Bytes, off: Any, end: Any, declared: Any, chunk: Chunk, table: Table) -> Any:
    """UDP headers (RFC 768): ports, and the payload length the header gives."""
    import numpy as np

    length = at.u16(off + 4)
    ok = (end - off >= 8) & ((length >= 8) | (length == 0))
    cut = (length != 0) & (off + length > end)                       # cut by the snap length
    stop = np.where(cut | (length == 0), end, off + length)
    payload = np.where(length == 0, declared - off, length) - 8
    table.put("payload_length", rows[ok], payload[ok])
    return _ports(UDP_KIND, ok, rows, at.u16(off), at.u16(off + 2), off + 8, stop, cut, chunk, table)


def _ports(kind: int, ok: Any, rows: Any, sport: Any, dport: Any, start: Any, stop: Any, cut: Any,
           chunk: Chunk, table: Table) -> Any:
    """The ports of TCP or UDP rows, and the application header a well-known port names (``above``, where
    there is a payload) located record by record with its own ``_locate``: returns the rows done."""
    import numpy as np

    table.put("sport", rows[ok], sport[ok])
    table.put("dport", rows[ok], dport[ok])
    above, known = table.numbers.above[kind]
    application = np.flatnonzero(ok & (stop > start) & (known[dport] | known[sport]))
    for i in application.tolist():
        cls = above[int(dport[i])] or above[int(sport[i])]
        if cut[i]:
            cls = getattr(cls, "CUT", cls)
        ok[i] = _application(cls, chunk, int(rows[i]), int(start[i]), int(stop[i]), table)
    return ok


def _application(cls: Any, chunk: Chunk, row: int, start: int, stop: int, table: Table) -> bool:
    """An application header (DNS) at ``start`` of record ``row`` that ends it: its protocol name into the
    row, or False (left to ``netstudy.wire.decode``) if it is malformed, fills columns or carries more."""
    base = int(chunk.start[row])
    try:
        kind, _, _, after, _, _ = LOCATE[cls](chunk.buf, base + start, base + stop)
    except DecodeError:
        return False
    if after is not None or kind.ROW:
        return False
    if kind.PROTOCOL is None or kind.PROTOCOL:
        table.texts["protocol"][row] = kind.PROTOCOL or kind.NAME
    return True


def _icmp(code: int, rows: Any, at: Bytes, off: Any, end: Any, declared: Any, chunk: Chunk, table: Table) -> Any:
    """ICMP (RFC 792) and ICMPv6 (RFC 4443) messages: type and code, long enough for their type's fields."""
    kind, message_code = at.u8(off), at.u8(off + 1)
    ok = end - off >= table.numbers.minimum[code][kind]
    table.put("icmp_type", rows[ok], kind[ok])
    table.put("icmp_code", rows[ok], message_code[ok])
    return ok


def _texts(keys: Any, text: Any) -> Any:
    """An object array of the texts of integer ``keys``, each distinct key written once."""
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(keys)
    return np.array([text(key) for key in uniques.tolist()], dtype=object)[codes]


def _texts16(block: Any) -> Any:
    """IPv6 addresses (rows of 16 bytes) as text, each distinct address written once (inet_ntop)."""
    import numpy as np

    uniques, codes = np.unique(np.ascontiguousarray(block).view("V16").ravel(), return_inverse=True)
    texts = [socket.inet_ntop(socket.AF_INET6, bytes(address)) for address in uniques.tolist()]
    return np.array(texts, dtype=object)[codes.ravel()]


def _ipv4_text(key: int) -> str:
    return socket.inet_ntoa(key.to_bytes(4, "big"))


def _mac_text(key: int) -> str:
    return key.to_bytes(6, "big").hex(":")


def _decode_row(chunk: Chunk, row: int, table: Table) -> None:
    """One record decoded by ``netstudy.wire.decode``: its row, and the extra columns from its layers."""
    start = int(chunk.start[row])
    packet = decode(chunk.buf[start:start + int(chunk.caplen[row])], int(chunk.linktype[row]), None,
                    int(chunk.length[row]))
    values = packet.row_values()
    for name in INTEGER_COLUMNS[:6]:
        value = values[_ROW_INDEX[name]]
        table.has[name][row] = value is not None
        table.ints[name][row] = value or 0
    for name in TEXT_COLUMNS:
        table.texts[name][row] = values[_ROW_INDEX[name]]
    table.malformed[row] = values[_ROW_INDEX["malformed"]]
    for name in INTEGER_COLUMNS[6:]:
        table.has[name][row] = False
    table.fragment[row] = False
    ip_end = None
    for layer in packet.layers:
        if isinstance(layer, IPv4):
            table.put("ip_proto", row, layer.protocol)
            table.fragment[row] |= layer.is_fragment
            ip_end = layer.offset + layer.total_length if layer.total_length else len(packet.data)
        elif isinstance(layer, IPv6):
            table.put("ip_proto", row, layer.next_header)
            ip_end = layer.offset + 40 + layer.payload_length if layer.payload_length else len(packet.data)
        elif layer.LAYER == "network" and hasattr(layer, "next_header"):     # an IPv6 extension header
            table.put("ip_proto", row, layer.next_header)
            if isinstance(layer, IPv6Fragment):
                table.fragment[row] |= bool(layer.fragment_offset or layer.m)
        elif isinstance(layer, TCP) and ip_end is not None:
            table.put("tcp_seq", row, layer.seq)
            table.put("tcp_ack", row, layer.ack)
            table.put("payload_length", row, ip_end - layer.offset - layer.data_offset * 4)
        elif isinstance(layer, UDP) and ip_end is not None:
            table.put("payload_length", row, (layer.length or ip_end - layer.offset) - 8)
