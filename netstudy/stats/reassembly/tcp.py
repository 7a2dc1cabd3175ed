"""TCP stream reassembly per direction, sans-I/O (RFC 9293 §3.4, §3.10.7.4), as Wireshark follows a stream.

:class:`StreamTable` takes decoded :class:`Segment` s in capture order (``receive(segment, now_ns)``)
and keeps one :class:`TcpStream` per connection, numbered as tshark's ``tcp.stream``: in the order of
their first packet, a new one when a SYN (without ACK) comes with another initial sequence number than
the connection's (a port reused). Each stream holds both directions' bytes in the order they were
delivered (:attr:`TcpStream.chunks`), its state (:class:`State`, moved through :data:`TABLE`) and what
went wrong on the way (:attr:`TcpStream.anomalies`).

The choices, made to equal ``tshark -q -z follow,tcp,raw,N`` byte for byte (Wireshark 4.0,
``follow_tcp_tap_listener`` and ``check_follow_fragments`` in ``epan/dissectors/packet-tcp.c``):

* **relative sequence numbers**: a direction's base is its ISN when its first segment is a SYN, else
  that segment's sequence number minus one, or the other side's first acknowledgment minus one when that
  comes first; a SYN counts for one sequence number; arithmetic is modulo 2**32 (wraparound, RFC 9293
  §3.4 ``SEG.SEQ`` comparisons).
* **the first copy wins**: bytes are delivered once, when the in-order edge reaches them; a
  retransmission (exact or partial) gives only its bytes past the edge, and bytes a segment overlaps are
  the ones already delivered. Out-of-order segments wait, in arrival order, and are delivered when the
  hole before them fills (so between two waiting segments that overlap, the one that reaches the edge
  first gives the shared bytes).
* **a hole never filled** (a segment the capture missed) is passed over when the other side acknowledges
  past it: Wireshark writes ``[N bytes missing in capture file]`` in its place (a :class:`Gap` here).
  Segments waiting behind a hole nobody acknowledges are never delivered (tshark prints nothing of them);
  :meth:`StreamTable.expire` records such a hole as a gap anomaly once ``hole_timeout_ns`` has passed.
* a segment the capture cut short (snap length) moves the edge by its length on the wire and delivers
  the bytes captured.

SYN, FIN and RST move the stream's state (SYN_SEEN → SYN_ACK_SEEN → ESTABLISHED → CLOSING → CLOSED, or
RESET); a stream whose first packet is not a SYN (the capture started mid-stream) starts ESTABLISHED.
"""
from __future__ import annotations

import bisect
import enum
from dataclasses import dataclass, field
from typing import Any

from netstudy.states import StateTable

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
MOD = 1 << 32
HOLE_TIMEOUT_NS = 120 * 1_000_000_000      # 2 MSL (RFC 9293 §3.4.2): a hole older than this is a loss
MISSING = "[{} bytes missing in capture file]"   # Wireshark's words for a hole passed over


def seq_lt(a: int, b: int) -> bool:
    """``a`` before ``b`` in sequence space (RFC 9293 §3.4: comparisons modulo 2**32)."""
    return 0 < (b - a) % MOD < 1 << 31


class State(enum.Enum):
    NEW = "new"
    SYN_SEEN = "SYN seen"
    SYN_ACK_SEEN = "SYN-ACK seen"
    ESTABLISHED = "established"
    CLOSING = "closing"            # one side sent FIN
    CLOSED = "closed"              # both sides sent FIN
    RESET = "reset"


_ANY = ("syn", "syn-ack", "segment", "fin", "rst")
TABLE: StateTable[State] = StateTable(State.NEW, {
    (State.NEW, "syn"): State.SYN_SEEN,
    (State.NEW, "syn-ack"): State.SYN_ACK_SEEN,         # the capture missed the SYN
    (State.NEW, "segment"): State.ESTABLISHED,          # the capture started mid-stream
    (State.NEW, "fin"): State.CLOSING,
    (State.NEW, "rst"): State.RESET,
    (State.SYN_SEEN, "syn"): State.SYN_SEEN,            # retransmitted
    (State.SYN_SEEN, "syn-ack"): State.SYN_ACK_SEEN,
    (State.SYN_SEEN, "segment"): State.ESTABLISHED,
    (State.SYN_SEEN, "fin"): State.CLOSING,
    (State.SYN_SEEN, "rst"): State.RESET,               # a closed port's answer
    (State.SYN_ACK_SEEN, "syn"): State.SYN_ACK_SEEN,
    (State.SYN_ACK_SEEN, "syn-ack"): State.SYN_ACK_SEEN,
    (State.SYN_ACK_SEEN, "segment"): State.ESTABLISHED,  # the handshake's ACK
    (State.SYN_ACK_SEEN, "fin"): State.CLOSING,
    (State.SYN_ACK_SEEN, "rst"): State.RESET,
    (State.ESTABLISHED, "syn"): State.ESTABLISHED,
    (State.ESTABLISHED, "syn-ack"): State.ESTABLISHED,
    (State.ESTABLISHED, "segment"): State.ESTABLISHED,
    (State.ESTABLISHED, "fin"): State.CLOSING,
    (State.ESTABLISHED, "rst"): State.RESET,
    (State.CLOSING, "syn"): State.CLOSING,
    (State.CLOSING, "syn-ack"): State.CLOSING,
    (State.CLOSING, "segment"): State.CLOSING,
    (State.CLOSING, "fin"): State.CLOSED,               # the other side's FIN
    (State.CLOSING, "rst"): State.RESET,
    (State.CLOSED, "syn"): State.CLOSED,                # a retransmitted SYN (a new ISN is a new stream)
    (State.CLOSED, "syn-ack"): State.CLOSED,
    (State.CLOSED, "segment"): State.CLOSED,            # the last ACK
    (State.CLOSED, "rst"): State.RESET,
    **{(State.RESET, event): State.RESET for event in _ANY},
})


@dataclass(frozen=True, slots=True)
class Segment:
    """A TCP segment as the core needs it (decoded by the capture reader, or built by a test)."""

    src: str
    sport: int
    dst: str
    dport: int
    seq: int
    ack: int
    flags: int                   # the header's flag bits: FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10
    payload: bytes = b""         # the bytes captured
    length: int = -1             # the payload's length on the wire (-1: len(payload))
    frame: int = 0               # its number in the capture (1 = first)
    incomplete: bool = False     # its options cut by the capture, or in a fragment not reassembled:
    #                              counted in its stream (and its state), its bytes not followed

    @property
    def wire_length(self) -> int:
        return len(self.payload) if self.length < 0 else self.length


@dataclass(frozen=True, slots=True)
class Chunk:
    """Bytes delivered in order: ``direction`` 0 from the client (the stream's first sender), 1 from the server."""

    direction: int
    seq: int                     # relative sequence number of its first byte
    data: bytes
    frame: int
    time_ns: int


@dataclass(frozen=True, slots=True)
class Gap:
    """A hole the other side acknowledged past: bytes the capture never saw (Wireshark's
    ``[N bytes missing in capture file]``)."""

    direction: int
    seq: int
    missing: int
    frame: int
    time_ns: int

    @property
    def data(self) -> bytes:
        """What tshark's follow output shows in its place: its words and a NUL byte."""
        return MISSING.format(self.missing).encode() + b"\x00"


@dataclass(frozen=True, slots=True)
class Anomaly:
    """Something a direction's segments did: ``retransmission`` (no new byte), ``partial retransmission``
    (some bytes again, then new ones), ``overlap`` (bytes again, different from the first copy),
    ``out-of-order`` (past a hole), ``gap`` (a hole never filled: a segment the capture missed)."""

    frame: int
    direction: int
    kind: str
    seq: int
    length: int
    detail: str = ""


@dataclass(slots=True)
class _Direction:
    """One direction of a stream: its relative numbering and what waits to be delivered."""

    based: bool = False           # has its base (ISN) been set?
    base: int = 0
    isn_seen: bool = False        # was its SYN captured?
    next: int = 0                 # relative sequence number of the next byte to deliver
    written: int = 0              # bytes delivered in order by the segment path (Wireshark's bytes_written)
    waiting: list[tuple[int, bytes, int, int]] = field(default_factory=list)  # (seq, data, frame, time_ns)
    fin: bool = False
    packets: int = 0
    wire_bytes: int = 0           # payload bytes on the wire, retransmissions included
    origin: int = 0               # the first ``next``: kept bytes are indexed by their distance from it
    kept_at: list[int] = field(default_factory=list)        # delivered chunks (first copies): where each
    kept: list[bytes] = field(default_factory=list)         # starts (distance from origin), its bytes
    hole_since: int = -1          # when data first waited behind the current hole (-1: no hole)


@dataclass(slots=True)
class TcpStream:
    """One TCP connection: both endpoints, the bytes each way in delivery order, state and anomalies."""

    index: int                                # tshark's tcp.stream
    client: tuple[str, int]                   # the first packet's sender (follow's Node 0)
    server: tuple[str, int]
    first_ns: int
    last_ns: int = 0
    state: State = State.NEW
    chunks: list[Chunk | Gap] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    followed: bool = False                    # did a segment with a whole header reach the follow logic?
    sides: tuple[_Direction, _Direction] = field(default_factory=lambda: (_Direction(), _Direction()))

    def data(self, direction: int) -> bytes:
        """The bytes one way (0 client → server, 1 server → client) in order, holes left out."""
        return b"".join(c.data for c in self.chunks if c.direction == direction and isinstance(c, Chunk))

    def runs(self, direction: int) -> list[bytes]:
        """The bytes one way as runs without a hole (a new run after each :class:`Gap`)."""
        runs = [bytearray()]
        for c in self.chunks:
            if c.direction == direction:
                if isinstance(c, Gap):
                    runs.append(bytearray())
                else:
                    runs[-1] += c.data
        return [bytes(r) for r in runs if r]

    def isn(self, direction: int) -> int | None:
        """The direction's initial sequence number, when its SYN was captured."""
        side = self.sides[direction]
        return side.base if side.isn_seen else None

    def count(self, kind: str) -> int:
        return sum(a.kind == kind for a in self.anomalies)

    def summary(self) -> dict[str, Any]:
        """One row of :meth:`StreamTable.to_frame`."""
        return {"stream": self.index, "client": _endpoint(self.client), "server": _endpoint(self.server),
                "state": self.state.value, "packets": len(self.frames),
                "bytes_client_to_server": len(self.data(0)), "bytes_server_to_client": len(self.data(1)),
                "retransmissions": self.count("retransmission") + self.count("partial retransmission"),
                "out_of_order": self.count("out-of-order"), "overlaps": self.count("overlap"),
                "gaps": self.count("gap"), "midstream": not (self.sides[0].isn_seen or self.sides[1].isn_seen),
                "start_ns": self.first_ns, "duration_s": (self.last_ns - self.first_ns) / 1e9}


def _endpoint(end: tuple[str, int]) -> str:
    return f"[{end[0]}]:{end[1]}" if ":" in end[0] else f"{end[0]}:{end[1]}"


class StreamTable:
    """Every TCP stream of a capture, segments in, in capture order (see the module docstring)."""

    def __init__(self, hole_timeout_ns: int = HOLE_TIMEOUT_NS) -> None:
        self.hole_timeout_ns = hole_timeout_ns
        self.streams: list[TcpStream] = []
        self._latest: dict[tuple[tuple[str, int], tuple[str, int]], TcpStream] = {}
        self._holes: dict[int, TcpStream] = {}          # streams with bytes waiting past a hole

    # -- the core's vocabulary --
    def receive(self, segment: Segment, now_ns: int) -> TcpStream:
        """One segment: returns the stream it belongs to, its bytes delivered and its state moved."""
        stream, direction = self._stream_of(segment, now_ns)
        stream.frames.append(segment.frame)
        stream.last_ns = now_ns
        own, other = stream.sides[direction], stream.sides[1 - direction]
        own.packets += 1
        own.wire_bytes += segment.wire_length
        flags = segment.flags
        if not own.based:                                 # Wireshark's base_seq (tcp_analyze_sequence_number)
            own.based, own.base, own.isn_seen = True, segment.seq if flags & SYN else segment.seq - 1, bool(flags & SYN)
        if not other.based and flags & ACK:
            other.based, other.base = True, segment.ack - 1
        seq = (segment.seq - own.base) % MOD
        ack = (segment.ack - other.base) % MOD if flags & ACK else segment.ack
        stream.state = TABLE.next(stream.state, self._event(own, flags))
        if segment.incomplete:                            # Wireshark: no follow tap for these
            return stream
        stream.followed = True
        if other.waiting:                                 # the other side's holes this acknowledges
            while self._apply_waiting(stream, 1 - direction, ack, segment.frame, now_ns, use_ack=True):
                pass
        self._deliver(stream, direction, (seq + 1) % MOD if flags & SYN else seq, segment, now_ns)
        return stream

    def expire(self, now_ns: int) -> list[Anomaly]:
        """Holes that data has waited behind for ``hole_timeout_ns``: recorded once as ``gap`` anomalies
        (the segment was never captured); their bytes stay undelivered, as tshark leaves them."""
        found = []
        for stream in list(self._holes.values()):
            if not (stream.sides[0].waiting or stream.sides[1].waiting):
                del self._holes[stream.index]
            for direction, side in enumerate(stream.sides):
                if side.waiting and 0 <= side.hole_since <= now_ns - self.hole_timeout_ns:
                    lowest = min((s for s, *_ in side.waiting), key=lambda s: (s - side.next) % MOD)
                    waiting = sum(len(d) for _, d, _, _ in side.waiting)
                    found.append(Anomaly(side.waiting[0][2], direction, "gap", side.next, (lowest - side.next) % MOD,
                                         f"never captured; {waiting} bytes after it never delivered"))
                    stream.anomalies.append(found[-1])
                    side.hole_since = -2          # reported
        return found

    def to_frame(self) -> Any:
        """A DataFrame, one row per stream: index, endpoints, bytes each way, anomalies, state."""
        import pandas as pd
        columns = list(TcpStream(0, ("", 0), ("", 0), 0).summary())
        return pd.DataFrame([s.summary() for s in self.streams], columns=columns)

    # -- which stream --
    def _stream_of(self, segment: Segment, now_ns: int) -> tuple[TcpStream, int]:
        a, b = (segment.src, segment.sport), (segment.dst, segment.dport)
        key = (a, b) if a <= b else (b, a)
        stream = self._latest.get(key)
        if stream is not None:
            direction = 0 if stream.client == a else 1
            side = stream.sides[direction]
            # a SYN with another ISN than the one this direction started with: the ports were reused
            reused = segment.flags & (SYN | ACK) == SYN and side.based and segment.seq != side.base
            if not reused:
                return stream, direction
        stream = TcpStream(len(self.streams), a, b, now_ns)
        self.streams.append(stream)
        self._latest[key] = stream
        return stream, 0

    @staticmethod
    def _event(own: _Direction, flags: int) -> str:
        if flags & RST:
            return "rst"
        if flags & SYN:
            return "syn-ack" if flags & ACK else "syn"
        if flags & FIN and not own.fin:
            own.fin = True
            return "fin"
        return "segment"

    # -- delivering bytes (Wireshark's follow_tcp_tap_listener) --
    def _deliver(self, stream: TcpStream, direction: int, seq: int, segment: Segment, now_ns: int) -> None:
        side = stream.sides[direction]
        data, length = segment.payload, segment.wire_length
        if side.written == 0 and side.next == 0:
            side.next = side.origin = seq
        if length and data:
            self._classify(stream, direction, seq, data, segment.frame)
        if seq_lt(seq, side.next):
            end = (seq + length) % MOD
            if seq_lt(side.next, end):                   # a retransmission with new bytes after the old
                skip = (side.next - seq) % MOD
                data, seq, length = data[skip:], side.next, (end - side.next) % MOD
        if not data or seq_lt(seq, side.next):
            return
        if seq == side.next:
            side.next = (side.next + length) % MOD
            side.written += len(data)
            self._emit(stream, Chunk(direction, seq, data, segment.frame, now_ns))
            while self._apply_waiting(stream, direction, 0, segment.frame, now_ns, use_ack=False):
                pass
        else:
            if not side.waiting:
                side.hole_since = now_ns
                self._holes[stream.index] = stream
            side.waiting.append((seq, data, segment.frame, now_ns))

    def _apply_waiting(self, stream: TcpStream, direction: int, ack: int, frame: int, now_ns: int,
                       use_ack: bool) -> bool:
        """Deliver one waiting segment that now reaches the edge, or pass over a hole the other side
        acknowledged (Wireshark's check_follow_fragments); False when nothing moved."""
        side = stream.sides[direction]
        if not side.waiting:
            return False
        lowest = side.waiting[0][0]
        for i, (seq, data, seg_frame, seg_ns) in enumerate(side.waiting):
            if seq_lt(seq, lowest):
                lowest = seq
            if seq_lt(seq, side.next):
                end = (seq + len(data)) % MOD
                skip = (side.next - seq) % MOD if seq_lt(side.next, end) else len(data)
                first = self._first_copy(side, seq, skip)
                if first is not None and first != data[:skip]:
                    stream.anomalies.append(Anomaly(seg_frame, direction, "overlap", seq, len(data),
                                                    "waited past a hole; its bytes differ from the first copy, "
                                                    "which was kept"))
                if skip < len(data):
                    self._emit(stream, Chunk(direction, side.next, data[skip:], seg_frame, seg_ns))
                    side.next = end
                del side.waiting[i]
                self._hole_moved(side, now_ns)
                return True
            if seq == side.next:
                self._emit(stream, Chunk(direction, seq, data, seg_frame, seg_ns))
                side.next = (side.next + len(data)) % MOD
                del side.waiting[i]
                self._hole_moved(side, now_ns)
                return True
        if use_ack and seq_lt(lowest, ack):
            missing = (lowest - side.next) % MOD
            stream.anomalies.append(Anomaly(frame, direction, "gap", side.next, missing,
                                            "acknowledged by the other side, never captured"))
            stream.chunks.append(Gap(direction, side.next, missing, frame, now_ns))
            side.next = lowest
            side.hole_since = -2
            return True
        return False

    @staticmethod
    def _hole_moved(side: _Direction, now_ns: int) -> None:
        if not side.waiting:
            side.hole_since = -1

    def _emit(self, stream: TcpStream, chunk: Chunk) -> None:
        stream.chunks.append(chunk)
        if chunk.data:
            side = stream.sides[chunk.direction]
            side.kept_at.append((chunk.seq - side.origin) % MOD)
            side.kept.append(chunk.data)

    # -- what each segment did (the anomalies, apart from what is delivered) --
    def _classify(self, stream: TcpStream, direction: int, seq: int, data: bytes, frame: int) -> None:
        side = stream.sides[direction]
        end = (seq + len(data)) % MOD
        if seq_lt(seq, side.next):
            old = data[:(side.next - seq) % MOD] if seq_lt(side.next, end) else data
            kind = "partial retransmission" if seq_lt(side.next, end) else "retransmission"
            first = self._first_copy(side, seq, len(old))
            if first is not None and first != old:
                kind = "overlap"
            stream.anomalies.append(Anomaly(frame, direction, kind, seq, len(data),
                                            "different bytes from the first copy: the first copy kept"
                                            if kind == "overlap" else ""))
        elif seq_lt(side.next, seq):
            if any(seq_lt(s, end) and seq_lt(seq, (s + len(d)) % MOD) for s, d, _, _ in side.waiting):
                stream.anomalies.append(Anomaly(frame, direction, "overlap", seq, len(data),
                                                "overlaps a segment waiting past the hole"))
            else:
                stream.anomalies.append(Anomaly(frame, direction, "out-of-order", seq, len(data),
                                                f"{(seq - side.next) % MOD} bytes missing before it"))

    @staticmethod
    def _first_copy(side: _Direction, seq: int, length: int) -> bytes | None:
        """The delivered bytes at [seq, seq + length), when they were all delivered without a hole."""
        at = (seq - side.origin) % MOD
        index = bisect.bisect_right(side.kept_at, at) - 1
        out = bytearray()
        while len(out) < length and 0 <= index < len(side.kept):
            start, data = side.kept_at[index], side.kept[index]
            if not start <= at < start + len(data):
                return None
            piece = data[at - start:at - start + length - len(out)]
            out += piece
            at += len(piece)
            index += 1
        return bytes(out) if len(out) == length else None
