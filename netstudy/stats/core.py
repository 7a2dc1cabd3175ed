"""Wireshark's Statistics menu as pure functions: decoded packets or a per-packet table in, one
DataFrame out (units in the column names). No files, no clock, no printing: ``tables.py`` reads the
capture and calls these.

What each table counts is what tshark counts for the same ``-z`` statistic (tshark(1), "-z"):
``io,phs`` (:func:`hierarchy`), ``conv,TYPE`` (:func:`conversation_table`), ``endpoints,TYPE``
(:func:`endpoint_table`), ``io,stat,INTERVAL`` (:func:`io_table`); the TCP handshake times are
tshark's ``tcp.analysis.initial_rtt`` split at the SYN/ACK (:class:`Handshakes`), the DNS times its
``dns.time`` (:class:`DnsExchanges`). Lengths are frame lengths on the wire (``frame.len``).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from netstudy.errors import DecodeError, InputError
from netstudy.wire import ARP, DNS, ICMP, TCP, UDP, VLAN, ICMPv6, IPv4, IPv6, Packet
from netstudy.wire.arp import ARPOther
from netstudy.wire.dns.codes import RCODES
from netstudy.wire.tcp import FLAG_LETTERS

PROTOS = ("eth", "ip", "ipv6", "tcp", "udp")
MAX_INTERVALS = 1_000_000                  # an I/O graph longer than this is a mistaken interval, not a graph
# tshark's name for the first header a link type gives (no name: raw IPv4/IPv6 start at "ip"/"ipv6")
LINK_NAMES = {0: "null", 1: "eth", 101: "raw", 113: "sll", 276: "sll"}
# the layers a protocol-hierarchy path names, by header class (checked in this order: subclasses first)
_LAYER_NAMES: tuple[tuple[type, str], ...] = ((ARP, "arp"), (ARPOther, "arp"), (IPv4, "ip"), (IPv6, "ipv6"),
                                              (ICMPv6, "icmpv6"), (ICMP, "icmp"), (TCP, "tcp"), (UDP, "udp"),
                                              (DNS, "dns"))
_NAME_OF: dict[type, str | None] = {}
_QINQ_TPID = b"\x88\xa8"                   # IEEE 802.1ad: tshark names that tag "ieee8021ad", 802.1Q's "vlan"
_CARRIES_DATA = frozenset({"ip", "ipv6", "tcp", "udp"})   # bytes no dissector claims after these: "data"


# ---- protocol hierarchy (tshark -z io,phs)

def _layer_name(cls: type) -> str | None:
    """The hierarchy's name for a header class; None for the headers tshark shows inside another's
    subtree (the link header itself, IPv6 extension headers)."""
    if cls not in _NAME_OF:
        _NAME_OF[cls] = next((name for kind, name in _LAYER_NAMES if issubclass(cls, kind)), None)
    return _NAME_OF[cls]


def protocol_path(packet: Packet) -> tuple[str, ...]:
    """The protocols of one frame as tshark's protocol hierarchy names them, outermost first:
    ``("eth", "ip", "tcp", "data")``. Payload no header claims after IP, TCP or UDP is ``data``; an
    ICMP error has under it what the TCP or UDP header it quotes carried (``dns`` or ``data``), as
    tshark's tree does (the quoted IP and transport headers sit inside ICMP's subtree)."""
    path = [LINK_NAMES[packet.linktype]] if packet.linktype in LINK_NAMES else []
    data = packet.data
    last, rest = None, 0
    for cls, off, _end, _, payload_start, payload_end in packet.spans:
        if issubclass(cls, VLAN):
            name: str | None = "ieee8021ad" if data[off - 2:off] == _QINQ_TPID else "vlan"
        else:
            name = _layer_name(cls)
        if name is not None:
            path.append(name)
            last = name
            rest = payload_end - payload_start
    if last in _CARRIES_DATA and packet.error is None and rest > 0:
        path.append("data")
    elif last in ("icmp", "icmpv6") and packet.error is None:
        quoted = getattr(packet.transport, "quoted", None)   # an error quoting a datagram: what its
        if quoted is not None:                               # TCP or UDP header carried shows under ICMP
            inner = protocol_path(quoted)
            if len(inner) > 1 and inner[-2] in ("tcp", "udp") and inner[-1] in ("dns", "data"):
                path.append(inner[-1])
    return tuple(path)


def hierarchy(paths: Iterable[tuple[tuple[str, ...], int]]) -> Any:
    """The protocol hierarchy of (path, frame length) pairs: one row per node of the tree, in
    tshark's order (a node's children in the order first seen, depth first), with the frames and
    bytes of every frame whose path goes through it."""
    import pandas as pd

    counts: dict[tuple[str, ...], list[int]] = {}
    children: dict[tuple[str, ...], list[tuple[str, ...]]] = {(): []}
    for path, length in paths:
        for depth in range(1, len(path) + 1):
            node = path[:depth]
            count = counts.get(node)
            if count is None:
                count = counts[node] = [0, 0]
                children[node] = []
                children[path[:depth - 1]].append(node)
            count[0] += 1
            count[1] += length
    rows = []
    stack = list(reversed(children[()]))
    while stack:
        node = stack.pop()
        rows.append((":".join(node), node[-1], len(node) - 1, *counts[node]))
        stack.extend(reversed(children[node]))
    return pd.DataFrame(rows, columns=["path", "protocol", "depth", "frames", "bytes"])


# ---- the per-packet table: which rows a conversation type counts

def select(frame: Any, proto: str) -> Any:
    """The rows of a per-packet table (``pcap.to_frame`` or ``read_columns``) that carry ``proto``:
    ``eth`` (an Ethernet header), ``ip``/``ipv6`` (an IPv4/IPv6 header; ARP is not IP), ``tcp`` (a
    whole TCP header: one whose options the capture cut is left out, as tshark leaves it), ``udp``."""
    if proto not in PROTOS:
        raise InputError(f"unknown conversation type {proto!r}: choose one of {', '.join(PROTOS)}")
    if proto == "eth":
        return frame[frame["src_mac"].notna()]
    is_ip = frame["src"].notna() & (frame["protocol"] != "ARP")
    if proto in ("ip", "ipv6"):
        is_v6 = frame["src"].astype(str).str.contains(":", regex=False)
        return frame[is_ip & (is_v6 if proto == "ipv6" else ~is_v6)]
    is_tcp = frame["tcp_flags"].notna()
    if proto == "tcp":      # a TCP header the capture cut (its options) is no segment tshark counts
        return frame[is_ip & is_tcp & ~(frame["malformed"] & (frame["protocol"] == "TCP"))]
    return frame[is_ip & frame["sport"].notna() & ~is_tcp]


def _ends(rows: Any, proto: str) -> tuple[list[str], ...]:
    """The address columns (and port columns, for TCP and UDP) of each side of ``rows``."""
    if proto == "eth":
        return ["src_mac"], ["dst_mac"]
    if proto in ("tcp", "udp"):
        return ["src", "sport"], ["dst", "dport"]
    return ["src"], ["dst"]


def _seconds_since(times: Any, origin: Any) -> Any:
    return (times - origin).dt.total_seconds()


def _reuse_generations(keys: Any, flags: Any) -> list[int]:
    """For each TCP row, which connection of its pair of endpoints it belongs to (0, 1, ...): a SYN
    without ACK after a FIN or RST of that pair starts the next one, as tshark starts a new
    ``tcp.stream`` when a port pair is reused (tshark tells by the SYN's new ISN)."""
    generation: dict[str, int] = {}
    closed: set[str] = set()
    out = []
    for key, letters in zip(keys, flags, strict=True):
        if "S" in letters and "." not in letters and key in closed:
            generation[key] = generation.get(key, 0) + 1
            closed.discard(key)
        out.append(generation.get(key, 0))
        if "F" in letters or "R" in letters:
            closed.add(key)
    return out


def _keyed(frame: Any, proto: str) -> tuple[Any, list[str], list[str]]:
    """The rows of ``proto`` with ``_key`` (one per conversation), ``_src`` (the sending end), ``_fwd``
    (sent by side A, the sender of the conversation's first frame) and ``_length``; and the address
    (and port) columns of each side."""
    import numpy as np

    rows = select(frame, proto)
    a_cols, b_cols = _ends(rows, proto)
    src = rows[a_cols[0]].astype(str) + ("|" + rows[a_cols[1]].astype(str) if len(a_cols) > 1 else "")
    dst = rows[b_cols[0]].astype(str) + ("|" + rows[b_cols[1]].astype(str) if len(b_cols) > 1 else "")
    key = np.where(src <= dst, src + " " + dst, dst + " " + src)
    if proto == "tcp" and len(rows):
        key = key + "#" + np.array(_reuse_generations(key, rows["tcp_flags"].astype(str)), dtype=str)
    keyed = rows.assign(_key=key, _src=src.to_numpy(), _length=rows["length"].astype("int64"))
    first = keyed.groupby("_key", sort=False)["_src"].first()
    return keyed.assign(_fwd=keyed["_src"].to_numpy() == first.loc[keyed["_key"]].to_numpy()), a_cols, b_cols


def conversation_table(frame: Any, proto: str = "tcp") -> Any:
    """Conversations of ``proto`` as ``tshark -q -z conv,PROTO`` counts them: one row per pair of
    endpoints (address, and port for TCP/UDP; a TCP pair reused after FIN or RST is a new one); side
    A is the source of the conversation's first frame; frames and bytes each way and in total; the
    first frame's time from the capture's first (``start_s``) and the time to the last
    (``duration_s``). Sorted by start."""
    import numpy as np
    import pandas as pd

    grouped, a_cols, b_cols = _keyed(frame, proto)
    names = ["address_a", "port_a"][:len(a_cols)] + ["address_b", "port_b"][:len(b_cols)]
    columns = names + ["frames_a_to_b", "bytes_a_to_b", "frames_b_to_a", "bytes_b_to_a", "frames", "bytes",
                       "start_s", "duration_s"]
    if grouped.empty:
        return pd.DataFrame(columns=columns)
    forward = grouped["_fwd"].to_numpy()
    grouped = grouped.assign(_fwd_len=np.where(forward, grouped["_length"], 0),
                             _rev_len=np.where(forward, 0, grouped["_length"]))
    first = grouped.groupby("_key", sort=False).head(1).set_index("_key")
    by = grouped.groupby("_key", sort=False)
    origin = frame["time"].iloc[0]
    table = pd.DataFrame({
        "frames_a_to_b": by["_fwd"].sum(), "bytes_a_to_b": by["_fwd_len"].sum(),
        "frames_b_to_a": by["_fwd"].count() - by["_fwd"].sum(), "bytes_b_to_a": by["_rev_len"].sum(),
        "frames": by["_fwd"].count(), "bytes": by["_length"].sum(),
        "start_s": _seconds_since(by["time"].min(), origin),
        "duration_s": (by["time"].max() - by["time"].min()).dt.total_seconds(),
    })
    ends = first[a_cols + b_cols]
    ends.columns = names
    table = ends.join(table).sort_values("start_s", kind="stable").reset_index(drop=True)
    for column in columns[len(names):-2]:
        table[column] = table[column].astype("int64")
    return table[columns]


def endpoint_table(frame: Any, proto: str = "ip") -> Any:
    """Endpoints of ``proto`` as ``tshark -q -z endpoints,PROTO`` counts them: every frame counts for
    its source (tx) and its destination (rx), even when they are the same endpoint. Sorted by frames,
    then address."""
    import pandas as pd

    rows = select(frame, proto)
    a_cols, b_cols = _ends(rows, proto)
    names = ["address", "port"][:len(a_cols)]
    sides = []
    for cols, kind in ((a_cols, "tx"), (b_cols, "rx")):
        side = rows[cols + ["length"]].copy()
        side.columns = names + ["length"]
        side["kind"] = kind
        sides.append(side)
    both = pd.concat(sides, ignore_index=True)
    both["length"] = both["length"].astype("int64")
    counts = both.pivot_table(index=names, columns="kind", values="length", aggfunc=["count", "sum"], fill_value=0)
    table = pd.DataFrame(index=counts.index)
    for kind in ("tx", "rx"):
        table[f"{kind}_frames"] = counts.get(("count", kind), 0)
        table[f"{kind}_bytes"] = counts.get(("sum", kind), 0)
    table["frames"] = table["tx_frames"] + table["rx_frames"]
    table["bytes"] = table["tx_bytes"] + table["rx_bytes"]
    table = table.reset_index()
    table = table[names + ["frames", "bytes", "tx_frames", "tx_bytes", "rx_frames", "rx_bytes"]]
    return table.sort_values(["frames", "address"], ascending=[False, True], kind="stable").reset_index(drop=True)


def io_table(frame: Any, interval_s: float = 1.0, proto: str | None = None) -> Any:
    """Frames and bytes per interval of ``interval_s`` seconds from the capture's first frame, as
    ``tshark -q -z io,stat,INTERVAL`` counts them (every interval up to the last frame's, empty ones
    too; a frame earlier than one before it counts in the later one's interval); with ``proto`` only
    the frames carrying it (the first frame still sets the start)."""
    import numpy as np
    import pandas as pd

    if not interval_s > 0:
        raise InputError(f"interval {interval_s} s must be above 0")
    columns = ["start_s", "end_s", "frames", "bytes"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    origin = frame["time"].iloc[0]
    rows = frame if proto is None else select(frame, proto)
    # integer nanoseconds, so that an interval's edge is where tshark puts it (no float rounding)
    step = round(interval_s * 1e9)
    # a frame whose time goes back (a capture's later section, clocks stepped) counts in the interval
    # reached so far, as tshark's io,stat counts it: the interval is a running maximum over the file
    reached = np.maximum.accumulate((frame["time"] - origin).to_numpy().astype("int64") // step)
    last = int(reached[-1])
    if last >= MAX_INTERVALS:
        raise InputError(f"the capture spans {last * step / 1e9:.0f} s: {last + 1} intervals of {interval_s:g} s "
                         f"is more than {MAX_INTERVALS}; choose a longer interval")
    slots = reached[frame.index.get_indexer(rows.index)]
    lengths = rows["length"].to_numpy().astype("int64")
    frames = np.bincount(slots, minlength=last + 1)
    sizes = np.bincount(slots, weights=lengths, minlength=last + 1).astype("int64")
    starts = np.arange(last + 1) * step / 1e9
    return pd.DataFrame({"start_s": starts, "end_s": starts + step / 1e9, "frames": frames, "bytes": sizes},
                        columns=columns)


def flag_table(frame: Any) -> Any:
    """The TCP flags seen in each TCP conversation (as :func:`conversation_table` finds them), each
    way, in tcpdump's letters (``S``, ``F``, ``R``, ``P``, ``.`` for ACK, ``U``, ``E``, ``W``), with
    the SYN, FIN and RST frames counted. In order of the conversations' first frames."""
    import pandas as pd

    rows, _, _ = _keyed(frame, "tcp")
    out = []
    for _, conv in rows.groupby("_key", sort=False):
        first = conv.iloc[0]
        flags = conv["tcp_flags"].astype(str)
        out.append((first["src"], first["sport"], first["dst"], first["dport"], flags_union(flags[conv["_fwd"]]),
                    flags_union(flags[~conv["_fwd"]]), int(flags.str.contains("S", regex=False).sum()),
                    int(flags.str.contains("F", regex=False).sum()), int(flags.str.contains("R", regex=False).sum())))
    return pd.DataFrame(out, columns=["address_a", "port_a", "address_b", "port_b", "flags_a_to_b", "flags_b_to_a",
                                      "syn_frames", "fin_frames", "rst_frames"])


def flags_union(flag_strings: Iterable[str]) -> str:
    """Every flag letter in ``flag_strings`` (tcpdump's, as ``to_frame`` writes them), once each, in
    the order of the flag bits: ``["S", "S.", "P.", "F."]`` -> ``"FSP."``."""
    seen = set("".join(str(flags) for flags in flag_strings))
    return "".join(letter for _, letter in FLAG_LETTERS if letter in seen)


# ---- TCP handshakes and DNS exchanges, from decoded packets

@dataclass(slots=True)
class _Connection:
    syn_ns: int                  # the most recent SYN (tshark's ts_mru_syn)
    isn: int
    first_ns: int
    syns: int = 1
    synack_ns: int | None = None
    server_isn: int | None = None
    ack_ns: int | None = None
    answer: str = "none"


@dataclass
class Handshakes:
    """TCP three-way handshakes (RFC 9293 §3.5): per connection, SYN -> SYN/ACK (what the server's
    answer took) and SYN/ACK -> ACK, and their sum, tshark's ``tcp.analysis.initial_rtt`` (from the
    most recent SYN to the ACK of the SYN/ACK). Feed packets with :meth:`receive`; :meth:`table`."""

    connections: dict[tuple[str, int, str, int], _Connection] = field(default_factory=dict)
    origin_ns: int | None = None

    def receive(self, packet: Packet, now_ns: int) -> None:
        if self.origin_ns is None:
            self.origin_ns = now_ns
        tcp, ip = packet.transport, packet.network
        if not isinstance(tcp, TCP) or not isinstance(ip, (IPv4, IPv6)) or packet.error is not None:
            return
        flags = tcp.flag_bits
        syn, ack, rst = flags & 0x02, flags & 0x10, flags & 0x04
        forward, backward = (ip.src, tcp.sport, ip.dst, tcp.dport), (ip.dst, tcp.dport, ip.src, tcp.sport)
        if syn and not ack:
            conn = self.connections.get(forward)
            if conn is None or conn.synack_ns is not None:      # a new connection (or the port reused)
                self.connections[forward] = _Connection(now_ns, tcp.seq, now_ns)
            else:
                conn.syn_ns, conn.syns = now_ns, conn.syns + 1
            return
        conn = self.connections.get(backward)
        if conn is not None and conn.synack_ns is None and ack and tcp.ack == (conn.isn + 1) % 2**32:
            if syn:
                conn.synack_ns, conn.server_isn, conn.answer = now_ns, tcp.seq, "SYN/ACK"
            elif rst:
                conn.answer = "RST"
            return
        conn = self.connections.get(forward)
        if (conn is not None and conn.server_isn is not None and conn.ack_ns is None and ack and not syn
                and tcp.ack == (conn.server_isn + 1) % 2**32):
            conn.ack_ns = now_ns

    def table(self) -> Any:
        """One row per connection a SYN opened, in the order of their first SYN: client and server,
        ``start_s`` (first SYN, from the first packet), SYNs sent, the answer (``SYN/ACK``, ``RST``,
        ``none``) and the three times in milliseconds (NaN where the exchange did not happen)."""
        import pandas as pd

        def ms(end: int | None, start: int | None) -> float:
            return (end - start) / 1e6 if end is not None and start is not None else float("nan")

        origin = self.origin_ns or 0
        rows = [(c[0], c[1], c[2], c[3], (conn.first_ns - origin) / 1e9, conn.syns, conn.answer,
                 ms(conn.synack_ns, conn.syn_ns), ms(conn.ack_ns, conn.synack_ns), ms(conn.ack_ns, conn.syn_ns))
                for c, conn in self.connections.items()]
        return pd.DataFrame(rows, columns=["client", "client_port", "server", "server_port", "start_s", "syns",
                                           "answer", "syn_to_synack_ms", "synack_to_ack_ms", "initial_rtt_ms"])


@dataclass
class DnsExchanges:
    """DNS queries and their responses over UDP (RFC 1035 §4.1.1, §7.3): a response answers the
    query with the same id, from the server the query went to, back to the client's address and
    port, with the same question. Feed packets with :meth:`receive`; :meth:`table`."""

    queries: dict[tuple[Any, ...], list[Any]] = field(default_factory=dict)
    rows: list[list[Any]] = field(default_factory=list)
    origin_ns: int | None = None

    def receive(self, packet: Packet, now_ns: int) -> None:
        if self.origin_ns is None:
            self.origin_ns = now_ns
        dns, udp, ip = packet.application, packet.transport, packet.network
        if not isinstance(dns, DNS) or not isinstance(udp, UDP) or not isinstance(ip, (IPv4, IPv6)):
            return
        try:
            question = dns.message(allow_trailing=True).question
        except DecodeError:
            question = []
        name, qtype = (str(question[0].name), question[0].type) if question else ("", 0)
        if not dns.qr:
            key = (dns.id, ip.src, udp.sport, ip.dst, udp.dport, name, qtype)
            if key not in self.queries:          # a retransmission is timed from the first query
                row: list[Any] = [ip.src, udp.sport, ip.dst, udp.dport, dns.id, name, qtype,
                       (now_ns - self.origin_ns) / 1e9, None, float("nan"), now_ns]
                self.queries[key] = row
                self.rows.append(row)
            return
        answered = self.queries.pop((dns.id, ip.dst, udp.dport, ip.src, udp.sport, name, qtype), None)
        if answered is not None:
            answered[8] = RCODES.get(dns.rcode, str(dns.rcode))
            answered[9] = (now_ns - answered[10]) / 1e6

    def table(self) -> Any:
        """One row per query, in the order sent: client, server, id, question, ``start_s``, the
        response's rcode (None: unanswered) and ``response_ms``."""
        import pandas as pd

        return pd.DataFrame([row[:10] for row in self.rows],
                            columns=["client", "client_port", "server", "server_port", "id", "name", "qtype",
                                     "start_s", "rcode", "response_ms"])


@dataclass
class Segments:
    """The TCP segments of one connection, for a time-sequence graph (Stevens, TCP/IP Illustrated
    vol. 1 §24; Wireshark's Statistics > TCP Stream Graphs): each segment's time, direction, sequence
    and acknowledgment numbers relative to each side's initial sequence number (RFC 9293 §3.4),
    payload bytes and flags. ``conversation`` is (address A, port A, address B, port B); None takes
    the first TCP connection seen. Feed packets with :meth:`receive`; :meth:`table`."""

    conversation: tuple[str, int, str, int] | None = None
    rows: list[tuple] = field(default_factory=list)
    isn: dict[bool, int] = field(default_factory=dict)
    origin_ns: int | None = None

    def receive(self, packet: Packet, now_ns: int) -> None:
        if self.origin_ns is None:
            self.origin_ns = now_ns
        tcp, ip = packet.transport, packet.network
        if not isinstance(tcp, TCP) or not isinstance(ip, (IPv4, IPv6)) or packet.error is not None:
            return
        ends = (ip.src, tcp.sport, ip.dst, tcp.dport)
        if self.conversation is None:
            self.conversation = ends
        a_to_b = ends == self.conversation
        if not a_to_b and ends != (self.conversation[2], self.conversation[3], *self.conversation[:2]):
            return
        isn = self.isn.setdefault(a_to_b, tcp.seq)
        peer = self.isn.get(not a_to_b)
        span = packet.spans[-1]
        payload = span[5] - span[4] if span[0] is TCP else 0
        acked = (tcp.ack - peer) % 2**32 if peer is not None and tcp.flag_bits & 0x10 else None
        self.rows.append(((now_ns - self.origin_ns) / 1e9, "A→B" if a_to_b else "B→A", tcp.seq,
                          (tcp.seq - isn) % 2**32, acked, payload, tcp.flags))

    def table(self) -> Any:
        """One row per segment: ``time_s`` (from the capture's first packet), ``direction`` (A→B, B→A),
        ``seq`` (raw), ``relative_seq`` and ``relative_ack`` (bytes), ``payload_bytes``, ``flags``."""
        import pandas as pd

        table = pd.DataFrame(self.rows, columns=["time_s", "direction", "seq", "relative_seq", "relative_ack",
                                                 "payload_bytes", "flags"])
        table["relative_ack"] = table["relative_ack"].astype("Int64")
        return table
