"""Line framing (netstudy.wire.lines), shared by the chat room and the peer-to-peer chat: bytes in, lines out."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netstudy.wire.lines import MAX_LINE, InvalidUtf8, Line, LineFramer, LineTooLong, encode_line


def feed_all(framer: LineFramer, chunks: list[bytes]) -> list:
    return [ev for chunk in chunks for ev in framer.feed(chunk)]


def test_two_lines_in_one_read_and_a_line_in_two():
    f = LineFramer()
    assert f.feed(b"hello\nworld\nhal") == [Line("hello"), Line("world")]
    assert f.buffered == 3
    assert f.feed(b"f\n") == [Line("half")]
    assert f.buffered == 0


def test_crlf_from_telnet_is_one_line():
    assert LineFramer().feed(b"hi there\r\n\r\n") == [Line("hi there"), Line("")]


def test_multibyte_utf8_split_across_reads_byte_by_byte():
    text = "héllo wörld 世界 🎉"
    data = encode_line(text)
    assert len(data) > len(text) + 1            # really multi-byte
    events = feed_all(LineFramer(), [data[i:i + 1] for i in range(len(data))])
    assert events == [Line(text)]


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)),
                        max_size=40), max_size=8),
       st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=30))
def test_any_split_of_the_stream_gives_the_same_lines(lines, cuts):
    data = b"".join(encode_line(t) for t in lines)
    chunks, pos, k = [], 0, 0
    while pos < len(data):
        chunks.append(data[pos:pos + cuts[k % len(cuts)]])
        pos += cuts[k % len(cuts)]
        k += 1
    assert feed_all(LineFramer(), chunks) == [Line(t) for t in lines]


def test_line_at_the_limit_passes_one_byte_more_is_refused():
    f = LineFramer(max_line=10)
    assert f.feed(b"x" * 10 + b"\n") == [Line("x" * 10)]
    assert f.feed(b"y" * 11 + b"\nnext\n") == [LineTooLong(11), Line("next")]


def test_endless_line_is_reported_once_and_never_buffered_beyond_the_limit():
    f = LineFramer()
    events = []
    for _ in range(160):                        # 10 MiB without a newline
        events += f.feed(b"z" * 65536)
        assert f.buffered <= MAX_LINE + 1
    events += f.feed(b"zzz\nafter\n")
    assert events == [LineTooLong(65536), Line("after")]


def test_invalid_utf8_is_an_event_not_an_exception_and_the_stream_goes_on():
    f = LineFramer()
    assert f.feed(b"ok\n\xc3\x28 bad\n\xff\nfine\n") == [Line("ok"), InvalidUtf8(0), InvalidUtf8(0), Line("fine")]
    assert f.feed(b"ab\xe2\x82\n") == [InvalidUtf8(2)]          # a truncated 3-byte sequence


def test_encode_line_refuses_embedded_newlines():
    assert encode_line("café") == "café\n".encode()
    with pytest.raises(ValueError, match="newline"):
        encode_line("two\nlines")
