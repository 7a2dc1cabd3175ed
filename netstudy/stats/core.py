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

def _carries(frame: Any, proto: str) -> Any:
    """Which rows of a per-packet table carry ``proto`` (see :func:`select`), a boolean Series."""
    if proto not in PROTOS:
        raise InputError(f"unknown conversation type {proto!r}: choose one of {', '.join(PROTOS)}")
    if proto == "eth":
        return frame["src_mac"].notna()
    is_ip = frame["src"].notna() & (frame["protocol"] != "ARP")
    if proto in ("ip", "ipv6"):
        is_v6 = frame["src"].astype(str).str.contains(":", regex=False)
        return is_ip & (is_v6 if proto == "ipv6" else ~is_v6)
    is_tcp = frame["tcp_flags"].notna()
    if proto == "tcp":      # a TCP header the capture cut (its options) is no segment tshark counts
        return is_ip & is_tcp & ~(frame["malformed"] & (frame["protocol"] == "TCP"))
    return is_ip & frame["sport"].notna() & ~is_tcp


def select(frame: Any, proto: str) -> Any:
    """The rows of a per-packet table (``pcap.to_frame`` or ``read_columns``) that carry ``proto``:
    ``eth`` (an Ethernet header), ``ip``/``ipv6`` (an IPv4/IPv6 header; ARP is not IP), ``tcp`` (a
    whole TCP header: one whose options the capture cut is left out, as tshark leaves it), ``udp``."""
    return frame[_carries(frame, proto)]


def _ends(proto: str) -> tuple[list[str], list[str]]:
    """The address columns (and port columns, for TCP and UDP) of each side of a row."""
    if proto == "eth":
        return ["src_mac"], ["dst_mac"]
    if proto in ("tcp", "udp"):
        return ["src", "sport"], ["dst", "dport"]
    return ["src"], ["dst"]


def _rows(frame: Any, proto: str, columns: list[str]) -> Any:
    """The rows carrying ``proto``, only ``columns`` of them (a copy of the few columns a table needs,
    not of the whole per-packet table)."""
    return frame.loc[_carries(frame, proto), columns]


def _seconds_since(times: Any, origin: Any) -> Any:
    return (times - origin).dt.total_seconds()


def _end_codes(rows: Any, a_cols: list[str], b_cols: list[str]) -> tuple[Any, Any]:
    """An integer for each row's source end and destination end (address, and port): the same end,
    the same integer, 0, 1, ... in order of first appearance (sources before destinations). Integers,
    not strings: grouping a million rows by them takes a fraction of the memory."""
    import numpy as np
    import pandas as pd

    count = len(rows)
    codes = np.zeros(2 * count, dtype="int64")
    for a, b in zip(a_cols, b_cols, strict=True):   # address, then port: at most 2 × rows × 65,537 values
        column, values = pd.factorize(pd.concat([rows[a], rows[b]], ignore_index=True), use_na_sentinel=False)
        codes = codes * len(values) + column
    codes = pd.factorize(codes)[0]
    return codes[:count], codes[count:]


def _reuse_generations(pairs: Any, opens: Any, closes: Any) -> Any:
    """For each TCP row, which connection of its pair of endpoints it belongs to (0, 1, ...): a SYN
    without ACK (``opens``) after a FIN or RST (``closes``) of that pair starts the next one, as
    tshark starts a new ``tcp.stream`` when a port pair is reused (tshark tells by the SYN's new ISN)."""
    import numpy as np

    generation: dict[int, int] = {}
    closed: set[int] = set()
    out = []
    for pair, opening, closing in zip(pairs.tolist(), opens.tolist(), closes.tolist(), strict=True):
        if opening and pair in closed:
            generation[pair] = generation.get(pair, 0) + 1
            closed.discard(pair)
        out.append(generation.get(pair, 0))
        if closing:
            closed.add(pair)
    return np.array(out, dtype="int64")


def _conversations(rows: Any, proto: str) -> tuple[Any, Any, Any]:
    """For the rows of ``proto``: each row's conversation (0, 1, ... in the order of their first
    frames), whether side A (the sender of the conversation's first frame) sent it, and the position
    of each conversation's first row."""
    import numpy as np
    import pandas as pd

    src, dst = _end_codes(rows, *_ends(proto))
    pair = np.minimum(src, dst) * (2 * len(rows)) + np.maximum(src, dst)   # the same pair either way
    if proto == "tcp" and len(rows):
        pair = pd.factorize(pair)[0]
        flags = rows["tcp_flags"]
        has = {letter: flags.str.contains(letter, regex=False, na=False).to_numpy() for letter in "S.FR"}
        generation = _reuse_generations(pair, has["S"] & ~has["."], has["F"] | has["R"])
        pair = pair * (int(generation.max()) + 1) + generation
    conversation = pd.factorize(pair)[0]
    first = np.unique(conversation, return_index=True)[1]
    return conversation, src == src[first][conversation], first


def conversation_table(frame: Any, proto: str = "tcp") -> Any:
    """Conversations of ``proto`` as ``tshark -q -z conv,PROTO`` counts them: one row per pair of
    endpoints (address, and port for TCP/UDP; a TCP pair reused after FIN or RST is a new one); side
    A is the source of the conversation's first frame; frames and bytes each way and in total; the
    first frame's time from the capture's first (``start_s``) and the time to the last
    (``duration_s``). Sorted by start."""
    import numpy as np
    import pandas as pd

    a_cols, b_cols = _ends(proto)
    names = ["address_a", "port_a"][:len(a_cols)] + ["address_b", "port_b"][:len(b_cols)]
    columns = names + ["frames_a_to_b", "bytes_a_to_b", "frames_b_to_a", "bytes_b_to_a", "frames", "bytes",
                       "start_s", "duration_s"]
    rows = _rows(frame, proto, a_cols + b_cols + ["length", "time"] + (["tcp_flags"] if proto == "tcp" else []))
    if rows.empty:
        return pd.DataFrame(columns=columns)
    conversation, forward, first = _conversations(rows, proto)
    count = len(first)
    length = rows["length"].to_numpy(dtype="int64")

    def total(weights: Any = None) -> Any:
        return np.bincount(conversation, weights=weights, minlength=count).astype("int64")

    times = rows["time"].groupby(conversation)
    start, end = times.min(), times.max()
    table = rows[a_cols + b_cols].iloc[first].reset_index(drop=True)
    table.columns = names
    table = table.assign(frames_a_to_b=total(forward), bytes_a_to_b=total(np.where(forward, length, 0)),
                         frames_b_to_a=total(~forward), bytes_b_to_a=total(np.where(forward, 0, length)),
                         frames=total(), bytes=total(length),
                         start_s=_seconds_since(start, frame["time"].iloc[0]).to_numpy(),
                         duration_s=(end - start).dt.total_seconds().to_numpy())
    return table.sort_values("start_s", kind="stable").reset_index(drop=True)[columns]


def endpoint_table(frame: Any, proto: str = "ip") -> Any:
    """Endpoints of ``proto`` as ``tshark -q -z endpoints,PROTO`` counts them: every frame counts for
    its source (tx) and its destination (rx), even when they are the same endpoint. Sorted by frames,
    then address (then port)."""
    import numpy as np
    import pandas as pd

    a_cols, b_cols = _ends(proto)
    names = ["address", "port"][:len(a_cols)]
    rows = _rows(frame, proto, a_cols + b_cols + ["length"])
    count = len(rows)
    # every end of every row: the sources (tx), then the destinations (rx); an end with no address is none
    ends = pd.DataFrame({name: pd.concat([rows[a], rows[b]], ignore_index=True)
                         for name, a, b in zip(names, a_cols, b_cols, strict=True)})
    known = ends.notna().all(axis=1).to_numpy()
    endpoint = pd.factorize(np.concatenate(_end_codes(rows, a_cols, b_cols))[known])[0]
    sent = np.arange(2 * count)[known] < count
    length = np.tile(rows["length"].to_numpy(dtype="int64"), 2)[known]
    number = int(endpoint.max()) + 1 if len(endpoint) else 0

    def total(which: Any, weights: Any = None) -> Any:
        return np.bincount(endpoint[which], weights=None if weights is None else weights[which],
                           minlength=number).astype("int64")

    table = ends[known].iloc[np.unique(endpoint, return_index=True)[1]].reset_index(drop=True)
    table = table.assign(tx_frames=total(sent), tx_bytes=total(sent, length), rx_frames=total(~sent),
                         rx_bytes=total(~sent, length))
    table = table.assign(frames=table["tx_frames"] + table["rx_frames"], bytes=table["tx_bytes"] + table["rx_bytes"])
    table = table[names + ["frames", "bytes", "tx_frames", "tx_bytes", "rx_frames", "rx_bytes"]]
    return table.sort_values(["frames", *names], ascending=[False] + [True] * len(names),
                             kind="stable").reset_index(drop=True)


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
    import numpy as np
    import pandas as pd

    a_cols, b_cols = _ends("tcp")
    rows = _rows(frame, "tcp", a_cols + b_cols + ["tcp_flags"])
    conversation, forward, first = _conversations(rows, "tcp")
    flags = rows["tcp_flags"].astype(str)
    seen: list[tuple[set[str], set[str]]] = [(set(), set()) for _ in first]     # (B to A, A to B)
    for index, a_to_b, letters in zip(conversation.tolist(), forward.tolist(), flags.tolist(), strict=True):
        seen[index][a_to_b].add(letters)
    frames_with = {letter: np.bincount(conversation, weights=flags.str.contains(letter, regex=False).to_numpy(),
                                       minlength=len(first)).astype("int64") for letter in "SFR"}
    table = pd.DataFrame(rows[a_cols + b_cols].iloc[first].to_numpy().tolist(),
                         columns=["address_a", "port_a", "address_b", "port_b"])
    return table.assign(flags_a_to_b=[flags_union(a_to_b) for _, a_to_b in seen],
                        flags_b_to_a=[flags_union(b_to_a) for b_to_a, _ in seen],
                        syn_frames=frames_with["S"], fin_frames=frames_with["F"], rst_frames=frames_with["R"])

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


def _tcp_over_ip(packet: Packet) -> tuple[TCP, IPv4 | IPv6] | None:
    """A well-formed packet's TCP header and the IP header under it, or None for any other packet."""
    tcp, ip = packet.transport, packet.network
    if not isinstance(tcp, TCP) or not isinstance(ip, (IPv4, IPv6)) or packet.error is not None:
        return None
    return tcp, ip


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
        found = _tcp_over_ip(packet)
        if found is None:
            return
        tcp, ip = found
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
        found = _tcp_over_ip(packet)
        if found is None:
            return
        tcp, ip = found
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
