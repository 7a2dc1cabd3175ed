"""Reassembly's cores without a capture: IP defragmentation's Linux rules (overlaps, duplicates,
timeouts, hostile fragments), the TCP stream table's states and numbering, and property tests: any
order and duplication of a byte stream's segments (or of a datagram's fragments) gives the bytes back."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netstudy.stats.reassembly import TABLE, Defragmenter, Segment, State, StreamTable, follow
from netstudy.stats.reassembly.tcp import ACK, FIN, RST, SYN
from netstudy.wire import IPv4, IPv6, IPv6Fragment, decode_ip

S = 1_000_000_000
PAYLOAD = bytes(range(256)) * 16          # 4096 bytes of a UDP-less protocol 253 datagram


def v4(offset: int, data: bytes, more: bool, ident: int = 7, src: str = "192.0.2.1", proto: int = 253) -> bytes:
    return IPv4(src=src, dst="192.0.2.2", identification=ident, protocol=proto, mf=more,
                fragment_offset=offset // 8).build(data)


def v6(offset: int, data: bytes, more: bool, ident: int = 9) -> bytes:
    return (IPv6(src="2001:db8::1", dst="2001:db8::2", next_header=44)
            / IPv6Fragment(next_header=253, fragment_offset=offset // 8, m=more, identification=ident) / data).build()


def pieces(make, size: int = 1024, data: bytes = PAYLOAD) -> list[bytes]:
    return [make(at, data[at:at + size], at + size < len(data)) for at in range(0, len(data), size)]


@pytest.mark.parametrize("make", [v4, v6], ids=["ipv4", "ipv6"])
def test_fragments_in_any_order_give_the_datagram(make):
    frags = pieces(make)
    d = Defragmenter()
    results = [d.receive(f, i) for i, f in enumerate([frags[2], frags[0], frags[3], frags[1]])]
    assert results[:3] == [None, None, None]
    whole = results[3]
    assert whole is not None and whole.payload == PAYLOAD
    packet = decode_ip(whole.data)
    assert not packet.malformed and packet.network.src in ("192.0.2.1", "2001:db8::1")
    if make is v4:
        assert packet.checksums()["IPv4"] == "good" and not packet.network.is_fragment
        assert packet.network.total_length == 20 + len(PAYLOAD) and packet.network.protocol == 253
    else:
        assert packet.network.payload_length == len(PAYLOAD) and packet.network.next_header == 253
    assert [str(s) for s in whole.steps][:2] == [
        "fragment 1: offset 2048, 1024 bytes, queued, holes left: [0, 2048), [3072, ∞)",
        "fragment 2: offset 0, 1024 bytes, queued, holes left: [1024, 2048), [3072, ∞)"]
    assert str(whole.steps[-1]).endswith("complete, holes left: none") and not d.pending


@pytest.mark.parametrize("make", [v4, v6], ids=["ipv4", "ipv6"])
def test_an_overlap_drops_the_whole_datagram_as_linux_does(make):
    d = Defragmenter()
    assert d.receive(make(0, PAYLOAD[:1024], True), 0) is None
    assert d.receive(make(512, PAYLOAD[512:1536], True), 1) is None        # half inside, half past: overlap
    assert not d.pending and "overlaps" in d.log[-1].reason
    # the rest arrives: a new datagram begins, and without its first fragment it never completes
    for i, frag in enumerate(pieces(make)[1:]):
        assert d.receive(frag, 2 + i) is None
    assert len(d.pending) == 1 and d.expire(2 + 60 * S)


@pytest.mark.parametrize("make", [v4, v6], ids=["ipv4", "ipv6"])
def test_a_fragment_inside_queued_bytes_is_a_duplicate_and_ignored(make):
    d = Defragmenter()
    frags = pieces(make)
    d.receive(frags[0], 0)
    d.receive(frags[1], 1)
    assert d.receive(make(512, b"\xff" * 1024, True), 2) is None   # inside the run [0, 2048): even other bytes
    assert d.pending and "duplicate" in str(next(iter(d.pending.values())).steps[-1])
    d.receive(frags[2], 3)
    assert d.receive(frags[3], 4).payload == PAYLOAD                # the first copy kept


@pytest.mark.parametrize("make, timeout", [(v4, 30), (v6, 60)], ids=["ipv4-30s", "ipv6-60s"])
def test_timeout_counts_from_the_first_fragment(make, timeout):
    frags = pieces(make)
    d = Defragmenter()
    d.receive(frags[0], 0)
    d.receive(frags[1], (timeout - 2) * S)                    # a later fragment does not renew the timer
    d.receive(frags[2], (timeout - 1) * S)
    assert d.receive(frags[3], timeout * S) is None           # too late: the datagram was dropped first
    assert "timed out after" in d.log[0].reason and "[3072, ∞)" in d.log[0].reason
    quick = Defragmenter()
    for i, frag in enumerate(frags):
        done = quick.receive(frag, i * (timeout * S - 1) // 3)
    assert done is not None and done.payload == PAYLOAD


def test_inconsistent_ends_and_empty_fragments_drop_the_datagram():
    d = Defragmenter()
    d.receive(v4(0, b"a" * 16, True), 0)
    d.receive(v4(24, b"b" * 8, False), 1)                     # the end is 32, [16, 24) missing
    d.receive(v4(16, b"c" * 8, False), 2)                     # another last fragment, ending at 24
    assert not d.pending and "last fragment ends at 24" in d.log[-1].reason
    d.receive(v4(0, b"a" * 16, True, ident=8), 3)
    d.receive(v4(16, b"", True, ident=8), 4)                  # zero length
    assert not d.pending and d.log[-1].reason == "zero-length fragment"
    d.receive(v4(0, b"a" * 16, True, ident=10), 5)
    d.receive(v4(64, b"z" * 8, False, ident=10), 6)
    d.receive(v4(80, b"y" * 8, True, ident=10), 7)            # past the end the last fragment set
    assert not d.pending and "past the last one's 72" in d.log[-1].reason


def test_hostile_fragments_are_dropped_and_logged_never_raised():
    d = Defragmenter(high_thresh=200_000)
    assert d.receive(v4(65528, b"x" * 200, False), 0) is None           # ends at 65728
    assert d.receive(v4(0, b"y" * 1480, True), 1) is None
    # (fill the middle, then the datagram would be longer than 65535 bytes: dropped at reassembly)
    for at in range(1480, 65528, 1480):
        d.receive(v4(at, b"z" * min(1480, 65528 - at), True), 2)
    assert not d.pending and "longer than 65535" in d.log[-1].reason
    assert d.receive(v6(65528, b"x" * 16, False), 3) is None            # IPv6: past IPV6_MAXPLEN
    assert "65535" in d.log[-1].reason
    assert d.receive(v6(0, b"x" * 13, True), 4) is None                 # IPv6: not a multiple of 8
    assert "multiple of 8" in d.log[-1].reason
    assert d.receive(b"\x45\x00\x00", 5) is None                        # not even a header
    for i in range(300):                                                 # too much waiting: refused
        d.receive(v4(0, b"q" * 1000, True, ident=i + 100), 6)
    assert sum(q.held for q in d.pending.values()) <= 200_000 and "ipfrag_high_thresh" in d.log[-1].reason


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=120), st.integers(0, 2**40))
def test_random_bytes_never_raise(data, now):
    d = Defragmenter()
    d.receive(data, now)
    if len(data) >= 20:
        mutated = bytearray(v4(8, data, True))
        mutated[6] |= 0x20
        d.receive(bytes(mutated), now)
    d.expire(now + 31 * S)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(1, 60), min_size=2, max_size=12), st.randoms(use_true_random=False),
       st.booleans())
def test_fragments_shuffled_and_duplicated_reassemble(sizes, rng, ipv6):
    # the bytes from one draw (a seed), not one hypothesis draw per byte: what it varies is the cuts,
    # the order and the duplicates, not the payload
    data = random.Random(rng.getrandbits(64)).randbytes(8 * sum(sizes))
    frags, at = [], 0
    for i, size in enumerate(sizes):
        more = i < len(sizes) - 1
        piece = data[at:at + 8 * size]
        frags.append(v6(at, piece, more) if ipv6 else v4(at, piece, more))
        at += 8 * size
    sent = frags + [rng.choice(frags) for _ in range(rng.randrange(4))]
    rng.shuffle(sent)
    d = Defragmenter()
    done = [r for r in (d.receive(f, i) for i, f in enumerate(sent)) if r is not None]
    # complete when the last missing fragment arrives, the bytes as sent (duplicates arriving after that
    # start a new datagram, which completes again only if they are all there)
    assert done and all(whole.payload == data for whole in done)


# -- TCP --

def seg(side: int, seq: int, flags: int = ACK, data: bytes = b"", ack: int = 0, frame: int = 0) -> Segment:
    ends = (("10.0.0.1", 1234), ("10.0.0.2", 80))
    (src, sport), (dst, dport) = ends[side], ends[1 - side]
    return Segment(src, sport, dst, dport, seq % 2**32, ack % 2**32, flags, data, -1, frame)


def test_states_of_a_connection_through_the_table():
    table = StreamTable()
    moves = [seg(0, 100, SYN), seg(1, 500, SYN | ACK, ack=101), seg(0, 101, ACK, ack=501),
             seg(0, 101, FIN | ACK, ack=501), seg(1, 501, FIN | ACK, ack=102), seg(0, 102, ACK, ack=502)]
    states = [table.receive(m, i).state for i, m in enumerate(moves)]
    assert states == [State.SYN_SEEN, State.SYN_ACK_SEEN, State.ESTABLISHED, State.CLOSING, State.CLOSED,
                      State.CLOSED]
    assert table.receive(seg(1, 502, RST), 7).state is State.RESET
    assert ("CLOSING", "fin", "CLOSED") in TABLE.rows()


def test_streams_numbered_as_tcp_stream_and_a_new_isn_is_a_new_stream():
    table = StreamTable()
    table.receive(seg(0, 100, SYN), 0)
    table.receive(seg(0, 100, SYN), 1)                         # retransmitted SYN: same stream
    table.receive(seg(0, 9999, SYN), 2)                        # another ISN: the port reused
    other = Segment("10.0.0.3", 5, "10.0.0.2", 80, 1, 0, SYN)
    assert [table.receive(other, 3).index, len(table.streams)] == [2, 3]
    assert [len(s.frames) for s in table.streams] == [2, 1, 1]


def test_a_stream_seen_mid_way_starts_established_and_numbers_from_its_first_segment():
    table = StreamTable()
    stream = table.receive(seg(1, 7000, ACK | 0x08, b"late", ack=300), 0)
    table.receive(seg(0, 300, ACK | 0x08, b"reply", ack=7004), 1)
    assert stream.state is State.ESTABLISHED and stream.isn(0) is None
    assert stream.data(0) == b"late" and stream.data(1) == b"reply" and stream.client == ("10.0.0.2", 80)
    assert stream.summary()["midstream"] and "Node 0: 10.0.0.2:80" in follow(stream, "raw")


def test_a_hole_nobody_acknowledges_is_a_gap_once_it_times_out():
    table = StreamTable(hole_timeout_ns=5 * S)
    table.receive(seg(0, 0, SYN), 0)
    table.receive(seg(0, 1, ACK, b"aaaa"), 1)
    stream = table.receive(seg(0, 9, ACK, b"cccc"), 2)         # bytes 5..8 never come
    assert table.expire(4 * S) == [] and stream.data(0) == b"aaaa"
    (gap,) = table.expire(6 * S)
    assert (gap.kind, gap.seq, gap.length) == ("gap", 5, 4) and "4 bytes after it never delivered" in gap.detail
    assert table.expire(20 * S) == []                          # reported once


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=400), st.lists(st.integers(1, 400), min_size=1, max_size=40),
       st.integers(0, 2**32 - 1), st.randoms(use_true_random=False))
def test_any_order_and_duplication_of_segments_gives_the_stream_back(stream_bytes, cuts, isn, rng):
    """Segments cut anywhere (retransmissions re-cut differently), sent in any order, some twice: once
    every byte has arrived, the stream is the bytes sent, across a sequence-number wrap too."""
    edges = sorted({0, len(stream_bytes), *(c % len(stream_bytes) for c in cuts)})
    spans = list(zip(edges, edges[1:], strict=False))
    extra = [(a, min(b + rng.randrange(30), len(stream_bytes))) for a, b in rng.sample(spans, min(3, len(spans)))]
    sent = spans + extra + [rng.choice(spans) for _ in range(rng.randrange(5))]
    rng.shuffle(sent)
    table = StreamTable()
    table.receive(seg(0, isn, SYN), 0)
    table.receive(seg(1, 77, SYN | ACK, ack=isn + 1), 0)
    for i, (a, b) in enumerate(sent):
        table.receive(seg(0, isn + 1 + a, ACK, stream_bytes[a:b], ack=78, frame=i), i)
    (stream,) = table.streams
    assert stream.data(0) == stream_bytes
    raw = follow(stream, "raw")
    assert "".join(line for line in raw.splitlines()[6:-1]) == stream_bytes.hex()
    assert stream.count("gap") == 0


def test_a_segment_cut_by_the_snap_length():
    """A segment the capture cut: the edge moves by its length on the wire, the captured bytes delivered."""
    table = StreamTable()
    table.receive(seg(0, 0, SYN), 0)
    cut = Segment("10.0.0.1", 1234, "10.0.0.2", 80, 1, 0, ACK, b"abc", 10)
    table.receive(cut, 1)
    stream = table.receive(seg(0, 11, ACK, b"next"), 2)
    assert stream.data(0) == b"abcnext" and stream.sides[0].next == 15
