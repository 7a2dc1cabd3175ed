"""A capture's bookkeeping with no socket and no clock (sans-I/O): which frames were kept, how many
bytes, in which direction, when to stop, and the statistics tcpdump prints at the end.

:class:`Capture` moves through :data:`TABLE`:

    READY --start--> CAPTURING --limit--> STOPPED    (the count, byte or duration limit reached)
                     CAPTURING --stop---> STOPPED    (Ctrl-C, ``stop()``, the end of a file)

The engine hands it each frame (``receive(frame, now_ns)`` -> the :class:`Captured` record, or None
once the capture is over) or a ring block's frames at once (``receive_batch``; ``receive_counted``, the
counts alone, for a block written to a file as it came), tells it the time
(``expire(now_ns)``: the ``-G`` duration) and, at the end,
the kernel's counters (``kernel(stats)``, from ``PACKET_STATISTICS``). :meth:`Capture.result` is the
:class:`CaptureResult`, with ``to_frame()``.
"""
from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from netstudy.errors import check_number
from netstudy.pcap import Record
from netstudy.states import StateTable
from netstudy.wire.decode import Packet, decode

MAX_COUNT = 2**63 - 1
MAX_DURATION = 365 * 24 * 3600.0          # seconds
# sll_pkttype (linux/if_packet.h): who the frame was for, as tcpdump -i any writes it
DIRECTIONS = {0: "in", 1: "broadcast", 2: "multicast", 3: "otherhost", 4: "out", None: "unknown"}
# a frame as the capture socket hands it over: (timestamp_ns, data, wire length, sll_pkttype or None)
Frame = tuple[int, bytes, int, "int | None"]
_LENGTH, _PKTTYPE = itemgetter(2), itemgetter(3)


class State(enum.Enum):
    """Where a capture stands."""

    READY = "ready"
    CAPTURING = "capturing"
    STOPPED = "stopped"


TABLE: StateTable[State] = StateTable(State.READY, {
    (State.READY, "start"): State.CAPTURING,
    (State.CAPTURING, "limit"): State.STOPPED,
    (State.CAPTURING, "stop"): State.STOPPED,
    (State.READY, "stop"): State.STOPPED,
    (State.STOPPED, "stop"): State.STOPPED,
})


@dataclass(frozen=True, slots=True)
class Limits:
    """When a capture ends by itself: after ``count`` frames (``-c``), ``duration`` seconds (``-G``) or
    ``max_bytes`` bytes on the wire; None: no such limit."""

    count: int | None = None
    duration: float | None = None
    max_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.count is not None:
            check_number("count", self.count, 1, MAX_COUNT, whole=True)
        if self.duration is not None:
            check_number("duration", self.duration, 0, MAX_DURATION, above=True)
        if self.max_bytes is not None:
            check_number("byte limit", self.max_bytes, 1, MAX_COUNT, whole=True)


@dataclass(slots=True)
class Captured:
    """One frame kept: when the kernel saw it (ns since the epoch), its bytes (at most the snap length),
    its length on the wire, its direction (``sll_pkttype``, None from a file) and link type."""

    timestamp_ns: int
    data: bytes
    length: int
    pkttype: int | None
    linktype: int

    @property
    def direction(self) -> str:
        return DIRECTIONS.get(self.pkttype, "unknown")

    def decode(self) -> Packet:
        """The frame's stack of layers (``netstudy.wire.decode``), cut headers marked as tcpdump marks them."""
        return decode(self.data, self.linktype, None, self.length)

    def record(self) -> Record:
        """The frame as a capture file record (``netstudy.pcap``)."""
        return Record(self.timestamp_ns, len(self.data), self.length, self.linktype, self.data)


@dataclass(slots=True)
class CaptureStats:
    """What tcpdump prints at the end, and more: frames kept and their bytes on the wire, by direction;
    ``received`` ("received by filter"), ``dropped`` ("dropped by kernel") and ``freeze_count`` as the
    kernel counted them (None when reading a file: there was no kernel); ``filtered_out``, the frames of
    a file the filter refused."""

    captured: int = 0
    bytes: int = 0
    by_direction: Counter[str] = field(default_factory=Counter)
    received: int | None = None
    dropped: int | None = None
    freeze_count: int | None = None
    filtered_out: int = 0


@dataclass
class CaptureResult:
    """A finished capture: its statistics, the frames kept (when asked to keep them), how it read them."""

    stats: CaptureStats
    frames: list[Captured]
    interface: str
    mechanism: str
    linktype: int

    def records(self) -> list[Record]:
        return [f.record() for f in self.frames]

    def to_frame(self) -> Any:
        """One row per frame: time, lengths, direction and what ``netstudy.wire.decode`` finds
        (``netstudy.pcap.to_frame``'s columns); pandas is imported only when asked."""
        from netstudy.pcap import to_frame
        table = to_frame(self.records())
        table.insert(1, "direction", [f.direction for f in self.frames])
        return table


class Capture:
    """The bookkeeping of one capture (sans-I/O): see the module's docstring."""

    def __init__(self, limits: Limits | None = None, keep: bool = True) -> None:
        self.limits = limits or Limits()
        self.keep = keep
        self.state = TABLE.initial
        self.stats = CaptureStats()
        self.frames: list[Captured] = []
        self.started_ns: int | None = None

    def start(self, now_ns: int) -> None:
        self.state = TABLE.next(self.state, "start")
        self.started_ns = now_ns

    @property
    def done(self) -> bool:
        return self.state is State.STOPPED

    def receive(self, frame: Captured, now_ns: int) -> Captured | None:
        """File a frame that arrived (or that a file holds); None when the capture is already over."""
        kept = self.receive_batch([(frame.timestamp_ns, frame.data, frame.length, frame.pkttype)],
                                  frame.linktype, now_ns)
        return frame if kept else None

    def receive_batch(self, frames: Sequence[Frame], linktype: int, now_ns: int) -> Sequence[Frame]:
        """File the frames of one read (a ring block's): the ones kept, in order, up to the count and
        byte limits ([] once the capture is over). Counted a batch at a time: a ring hands over thousands."""
        if self.state is not State.CAPTURING:
            return []
        limits, stats = self.limits, self.stats
        if limits.count is not None:
            frames = frames[:limits.count - stats.captured]
        if limits.max_bytes is not None:
            total = stats.bytes
            for index, frame in enumerate(frames):
                total += frame[2]
                if total >= limits.max_bytes:
                    frames = frames[:index + 1]
                    break
        self._count(len(frames), sum(map(_LENGTH, frames)), map(_PKTTYPE, frames))
        if self.keep:
            self.frames += (Captured(stamp, data, length, pkttype, linktype) for stamp, data, length, pkttype in frames)
        if ((limits.count is not None and stats.captured >= limits.count)
                or (limits.max_bytes is not None and stats.bytes >= limits.max_bytes)):
            self.state = TABLE.next(self.state, "limit")
        return frames

    def receive_counted(self, count: int, wire_bytes: int, pkttypes: Iterable[int | None]) -> bool:
        """File the frames of one read that are written as they came and never kept (``keep=False``, no count
        or byte limit: the engine's fast ``-w`` path): only counted. False once the capture is over."""
        if self.state is not State.CAPTURING:
            return False
        if self.keep or self.limits.count is not None or self.limits.max_bytes is not None:
            raise ValueError("receive_counted() is for captures that keep nothing and have no count or byte limit")
        self._count(count, wire_bytes, pkttypes)
        return True

    def _count(self, count: int, wire_bytes: int, pkttypes: Iterable[int | None]) -> None:
        stats = self.stats
        stats.captured += count
        stats.bytes += wire_bytes
        if isinstance(pkttypes, bytes) and pkttypes.count(pkttypes[:1]) == count:     # one direction (a flood)
            tally: dict[int | None, int] = {pkttypes[0]: count} if count else {}
        else:
            tally = Counter(pkttypes)
        for pkttype, number in tally.items():
            stats.by_direction[DIRECTIONS.get(pkttype, "unknown")] += number

    def refuse(self) -> None:
        """A frame of a file that the filter refused (a live capture's never reach us: the kernel's filter)."""
        self.stats.filtered_out += 1

    def expire(self, now_ns: int) -> bool:
        """Time has passed: True once the capture is over (the duration reached, or stopped before)."""
        duration = self.limits.duration
        if (self.state is State.CAPTURING and duration is not None and self.started_ns is not None
                and now_ns - self.started_ns >= duration * 1e9):
            self.state = TABLE.next(self.state, "limit")
        return self.done

    def seconds_left(self, now_ns: int) -> float | None:
        """How long until the duration limit, or None without one."""
        if self.limits.duration is None or self.started_ns is None:
            return None
        return max(0.0, self.limits.duration - (now_ns - self.started_ns) / 1e9)

    def stop(self) -> None:
        self.state = TABLE.next(self.state, "stop")

    def kernel(self, received: int, dropped: int, freeze_count: int) -> None:
        """The kernel's counters at the end of a live capture (``PACKET_STATISTICS``)."""
        self.stats.received, self.stats.dropped, self.stats.freeze_count = received, dropped, freeze_count

    def result(self, interface: str, mechanism: str, linktype: int) -> CaptureResult:
        return CaptureResult(self.stats, self.frames, interface, mechanism, linktype)


def protocol_counts(frames: Iterable[Captured]) -> Counter[str]:
    """How many frames of each top protocol (``TCP``, ``UDP``, ``ICMP``, ``ARP``, ``DNS``...)."""
    return Counter(str(frame.decode().row()["protocol"]) for frame in frames)
