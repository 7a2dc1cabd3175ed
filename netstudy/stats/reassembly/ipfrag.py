"""IPv4 and IPv6 defragmentation, sans-I/O, as Linux does it (RFC 791 §3.2, RFC 815, RFC 8200 §4.5).

:class:`Defragmenter` takes datagrams that start with an IP header (``receive(datagram, now_ns)``) and
gives back the whole datagram once its last hole is filled; ``expire(now_ns)`` drops the datagrams that
waited too long. Every fragment leaves a :class:`Step` in the datagram's log, written in the words of
RFC 815's hole descriptors (``fragment 2: offset 1480, 1480 bytes, holes left: [2960, ∞)``).

What Linux does, and so what this does (read in ``net/ipv4/ip_fragment.c``, ``net/ipv6/reassembly.c``
and ``net/ipv4/inet_fragment.c``, Linux 5.x/6.x):

* **the key**: IPv4 (source, destination, identification, protocol) (``ip4_frag_match``); IPv6 (source,
  destination, identification) (``ip6frag_key``: the next header is not part of it).
* **overlaps drop the whole datagram**, IPv4 as well as IPv6: ``inet_frag_queue_insert`` returns
  ``IPFRAG_OVERLAP`` when a fragment partly overlaps what is queued, and the queue is killed
  (RFC 5722 §4 for IPv6; for IPv4 since "ip: discard IPv4 datagrams with overlapping segments",
  Linux 4.19, commit 7969e5c40dfd). A fragment that lies wholly inside bytes already queued is a
  **duplicate** (``IPFRAG_DUP``, RFC 5722 as amended by erratum 3089; Linux commit ade446403bfb "do
  not handle duplicate fragments as overlapping"): it alone is dropped, even if its bytes differ.
* **inconsistent ends drop the datagram** (``ip_frag_queue``, "fail fast on IP defrag errors", commit
  0ff89efb5246): a last fragment (MF clear) ending before bytes already queued, or a second last fragment
  with another end, or a fragment past the end a last fragment set; a zero-length fragment too.
* a non-last fragment's length is rounded down to a multiple of 8 (IPv4, ``end &= ~7``); IPv6 drops
  such a fragment (RFC 8200 §4.5, a parameter problem) and one ending past 65535 (``IPV6_MAXPLEN``).
* a reassembled IPv4 datagram longer than 65535 bytes is dropped (``ip_frag_reasm``: "Oversized IP
  packet"); fragments are refused while more than :data:`HIGH_THRESH` bytes wait (``ipfrag_high_thresh``).
* **timeouts** start with a datagram's first fragment and are not renewed by later ones:
  ``net.ipv4.ipfrag_time`` 30 s, ``net.ipv6.ip6frag_time`` 60 s (``IPV6_FRAG_TIMEOUT``).
* the whole datagram is the first fragment's header (IPv4: options kept, total length and checksum
  rewritten, flags and offset cleared; IPv6: the unfragmentable headers, the fragment header removed and
  its next header written into the header before it), then the payload.

tshark (``ip.defragment``) reassembles overlapping fragments instead of dropping them and never times a
datagram out; the captures the tests compare against it have neither.

Nothing here raises on hostile input: what cannot be used is dropped and logged (:attr:`Defragmenter.log`).
"""
from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from netstudy.errors import DecodeError
from netstudy.wire.checksum import internet_checksum
from netstudy.wire.decode import decode_ip
from netstudy.wire.ipv4 import IPv4
from netstudy.wire.ipv6 import IPv6, IPv6Fragment

IPV4_TIMEOUT_NS = 30 * 1_000_000_000       # net.ipv4.ipfrag_time
IPV6_TIMEOUT_NS = 60 * 1_000_000_000       # IPV6_FRAG_TIMEOUT, net.ipv6.ip6frag_time
HIGH_THRESH = 4 * 1024 * 1024              # net.ipv4.ipfrag_high_thresh
MAX_DATAGRAM = 65535
INFINITY = None                            # the open end of RFC 815's first hole

Key = tuple[int, str, str, int, int]       # (IP version, source, destination, identification, protocol)


def holes_text(holes: Iterable[tuple[int, int | None]]) -> str:
    """RFC 815's hole list as ``[0, 1480), [2960, ∞)``; ``none`` when it is empty."""
    return ", ".join(f"[{first}, {'∞' if last is None else last})" for first, last in holes) or "none"


@dataclass(frozen=True, slots=True)
class Step:
    """One fragment of a datagram, and what was done with it (``queued``, ``duplicate``, ``complete``,
    or why the datagram was dropped)."""

    number: int                 # the fragment's rank in its datagram (1, 2, ...), in arrival order
    time_ns: int
    offset: int                 # where its bytes go in the datagram's payload
    length: int
    more: bool                  # MF / M flag: more fragments follow
    action: str
    holes: tuple[tuple[int, int | None], ...]     # RFC 815's holes after it, [first, last) each

    def __str__(self) -> str:
        return (f"fragment {self.number}: offset {self.offset}, {self.length} bytes{'' if self.more else ', last'}"
                f", {self.action}, holes left: {holes_text(self.holes)}")


@dataclass(slots=True)
class Datagram:
    """A datagram being put together, or put together: its key, its fragments and its step log."""

    key: Key
    started_ns: int
    header: bytes = b""                       # the first fragment's unfragmentable part (set by offset 0)
    naming: int = -1                          # IPv6: where in header the byte naming the fragment header is
    next_header: int = -1                     # IPv6: the fragment header's next header (from offset 0)
    pieces: list[tuple[int, bytes]] = field(default_factory=list)   # (offset, bytes), sorted, disjoint
    length: int = 0                           # the payload's length so far (q.len)
    last_in: bool = False                     # the last fragment (MF clear) arrived
    steps: list[Step] = field(default_factory=list)
    data: bytes = b""                         # the whole datagram, once complete
    dropped: str = ""                         # why it was dropped, if it was

    @property
    def version(self) -> int:
        return self.key[0]

    @property
    def payload(self) -> bytes:
        """The payload put back together so far (all of it once complete): what tshark shows as
        ``Reassembled IPv4 (N bytes)``."""
        return b"".join(piece for _, piece in self.pieces)

    @property
    def held(self) -> int:
        return sum(len(b) for _, b in self.pieces)

    def holes(self) -> tuple[tuple[int, int | None], ...]:
        """RFC 815's hole descriptors: what is still missing, the last one open until MF clear arrives."""
        found: list[tuple[int, int | None]] = []
        at = 0
        for offset, piece in self.pieces:
            if offset > at:
                found.append((at, offset))
            at = max(at, offset + len(piece))
        if not self.last_in:
            found.append((at, INFINITY))
        elif at < self.length:
            found.append((at, self.length))
        return tuple(found)

    def step_lines(self) -> list[str]:
        """The log, one line a fragment, for a notebook."""
        return [str(step) for step in self.steps]


@dataclass(frozen=True, slots=True)
class Drop:
    """A fragment that could not be used, or a datagram given up (``reason`` says which and why)."""

    time_ns: int
    key: Key | None
    reason: str


class Defragmenter:
    """Fragments in, whole datagrams out (see the module docstring for the rules, Linux's)."""

    def __init__(self, ipv4_timeout_ns: int = IPV4_TIMEOUT_NS, ipv6_timeout_ns: int = IPV6_TIMEOUT_NS,
                 high_thresh: int = HIGH_THRESH) -> None:
        self.timeouts = {4: ipv4_timeout_ns, 6: ipv6_timeout_ns}
        self.high_thresh = high_thresh
        self.pending: dict[Key, Datagram] = {}
        self.completed: list[Datagram] = []
        self.log: list[Drop] = []

    # -- the core's vocabulary --
    def receive(self, datagram: bytes, now_ns: int) -> Datagram | None:
        """One IP datagram (bytes from its IP header on). Returns the completed :class:`Datagram` when
        this fragment filled the last hole; None otherwise (not a fragment, queued, or dropped)."""
        self.expire(now_ns)
        try:
            piece = _fragment_of(bytes(datagram))
        except DecodeError as exc:
            self._drop(now_ns, None, f"undecodable: {exc}")
            return None
        if piece is None:
            return None
        key, offset, more, header, naming, next_header, payload = piece
        return self._add(key, offset, more, (header, naming, next_header), payload, now_ns)

    def expire(self, now_ns: int) -> list[Datagram]:
        """Drop the datagrams whose first fragment came ``ipfrag_time`` ago or more; returns them."""
        gone = [d for d in self.pending.values() if now_ns - d.started_ns >= self.timeouts[d.version]]
        for d in gone:
            self._kill(d, now_ns, f"timed out after {self.timeouts[d.version] // 1_000_000_000} s "
                                  f"with holes {holes_text(d.holes())}")
        return gone

    # -- the rules --
    def _add(self, key: Key, offset: int, more: bool, header: tuple[bytes, int, int], payload: bytes,
             now_ns: int) -> Datagram | None:
        d = self.pending.get(key)
        if d is None:
            if sum(q.held for q in self.pending.values()) + len(payload) > self.high_thresh:
                self._drop(now_ns, key, f"more than {self.high_thresh} bytes of fragments wait (ipfrag_high_thresh)")
                return None
            d = self.pending[key] = Datagram(key, now_ns)
        number = len(d.steps) + 1
        end = offset + len(payload)

        def record(action: str) -> None:
            d.steps.append(Step(number, now_ns, offset, len(payload), more, action, d.holes()))

        if key[0] == 6 and (end > MAX_DATAGRAM or (more and end & 7)):
            record("dropped: " + ("ends past 65535" if end > MAX_DATAGRAM else "length not a multiple of 8"))
            self._drop(now_ns, key, d.steps[-1].action)
            return None
        if not more:
            if end < d.length or (d.last_in and end != d.length):
                self._fail(d, record, now_ns, f"last fragment ends at {end}, bytes queued to {d.length}")
                return None
            d.last_in, d.length = True, end
        else:
            end &= ~7
            payload = payload[:end - offset] if end >= offset else b""
            if end > d.length:
                if d.last_in:
                    self._fail(d, record, now_ns, f"fragment ends at {end}, past the last one's {d.length}")
                    return None
                d.length = end
        if end <= offset:
            self._fail(d, record, now_ns, "zero-length fragment")
            return None
        verdict = _insert(d.pieces, offset, payload)
        if verdict == "overlap":
            self._fail(d, record, now_ns, "overlaps a queued fragment (RFC 5722)")
            return None
        if offset == 0 and verdict == "queued":
            d.header, d.naming, d.next_header = header
        if verdict == "duplicate":
            record("duplicate, ignored")
            return None
        if d.last_in and not d.holes():
            whole = _whole(d)
            if whole is None:
                self._fail(d, record, now_ns, f"reassembled datagram longer than {MAX_DATAGRAM} bytes")
                return None
            d.data = whole
            record("complete")
            del self.pending[key]
            self.completed.append(d)
            return d
        record("queued")
        return None

    def _fail(self, d: Datagram, record: Callable[[str], None], now_ns: int, reason: str) -> None:
        record(f"datagram dropped: {reason}")
        self._kill(d, now_ns, reason)

    def _kill(self, d: Datagram, now_ns: int, reason: str) -> None:
        d.dropped = reason
        self.pending.pop(d.key, None)
        self._drop(now_ns, d.key, reason)

    def _drop(self, now_ns: int, key: Key | None, reason: str) -> None:
        self.log.append(Drop(now_ns, key, reason))


def _insert(pieces: list[tuple[int, bytes]], offset: int, payload: bytes) -> str:
    """Put ``payload`` at ``offset`` among the sorted, disjoint pieces: ``queued``; or ``duplicate`` when
    it lies inside a run of contiguous pieces already there, ``overlap`` when it partly covers one
    (``inet_frag_queue_insert``'s IPFRAG_DUP and IPFRAG_OVERLAP)."""
    end = offset + len(payload)
    run_start = run_end = -1
    index = len(pieces)
    for i, (start, piece) in enumerate(pieces):
        stop = start + len(piece)
        run_start, run_end = (run_start, stop) if start == run_end else (start, stop)
        if offset < stop and start < end:          # it touches this piece: inside the run, or across an edge
            while i + 1 < len(pieces) and pieces[i + 1][0] == run_end:
                i += 1
                run_end += len(pieces[i][1])
            return "duplicate" if run_start <= offset and end <= run_end else "overlap"
        if start >= end:
            index = i
            break
    pieces.insert(index, (offset, payload))
    return "queued"


def _whole(d: Datagram) -> bytes | None:
    """The datagram: the first fragment's header, fixed up, and the payload; None if too long."""
    payload = d.payload
    if d.version == 4:
        ihl = len(d.header)
        if ihl + len(payload) > MAX_DATAGRAM:
            return None
        head = bytearray(d.header)
        struct.pack_into("!H", head, 2, ihl + len(payload))
        head[6:8] = head[10:12] = b"\x00\x00"                # flags and offset cleared, checksum zeroed
        struct.pack_into("!H", head, 10, internet_checksum(bytes(head)))
        return bytes(head) + payload
    head = bytearray(d.header)
    head[d.naming] = d.next_header                        # the byte that named the fragment header (44)
    if len(head) - 40 + len(payload) > MAX_DATAGRAM:
        return None
    struct.pack_into("!H", head, 4, len(head) - 40 + len(payload))
    return bytes(head) + payload


def _fragment_of(data: bytes) -> tuple[Key, int, bool, bytes, int, int, bytes] | None:
    """(key, offset, more, header, naming, next header, payload) if ``data`` is an IP fragment, else None.

    ``header`` is what goes before the payload in the whole datagram (IPv6: the unfragmentable part);
    for IPv6, ``naming`` is where in it the byte naming the fragment header (44) is, and ``next header``
    what the fragment header names."""
    packet = decode_ip(data)
    spans = packet.spans
    if not spans:
        return None
    cls, off, _, _, body, stop = spans[0]
    network = packet.network
    if issubclass(cls, IPv4) and isinstance(network, IPv4):
        word = data[off + 6] << 8 | data[off + 7]
        if not word & 0x3FFF:
            return None
        key = (4, network.src, network.dst, data[off + 4] << 8 | data[off + 5], data[off + 9])
        return key, (word & 0x1FFF) * 8, bool(word & 0x2000), data[off:body], -1, -1, data[body:stop]
    if not isinstance(network, IPv6):
        return None
    for index, (kind, frag, _, _, frag_body, frag_stop) in enumerate(spans):
        if kind is IPv6Fragment:
            before, at = spans[index - 1][0], spans[index - 1][1]
            naming = at - off + (6 if issubclass(before, IPv6) else 0)
            word = data[frag + 2] << 8 | data[frag + 3]
            key = (6, network.src, network.dst, int.from_bytes(data[frag + 4:frag + 8], "big"), 0)
            return key, word & 0xFFF8, bool(word & 1), data[off:frag], naming, data[frag], data[frag_body:frag_stop]
    return None
