"""Line framing, sans-I/O: a byte stream in, whole decoded lines out; and one line encoded for the wire.

The framing of line-based TCP protocols (the chat room's, the peer-to-peer chat's, SMTP's and IRC's in
spirit): UTF-8 text, one message per ``\\n``-terminated line, a ``\\r`` before it dropped (so ``telnet``'s
CRLF works). ``LineFramer.feed(data)`` takes whatever one ``recv()`` returned and returns the events of the
lines it completes: ``Line``, ``LineTooLong`` (reported once, the rest skipped to its newline) or
``InvalidUtf8``; it never raises and never holds more than ``max_line`` + 1 bytes.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_LINE", "FrameEvent", "InvalidUtf8", "Line", "LineFramer", "LineTooLong", "encode_line"]

MAX_LINE = 4096          # bytes in one line, newline excluded (the default limit)


@dataclass(frozen=True, slots=True)
class Line:
    """One complete, decoded line (without its ``\\n``)."""
    text: str


@dataclass(frozen=True, slots=True)
class LineTooLong:
    """A line longer than the limit: reported once, then dropped up to its newline."""
    length: int          # bytes seen when it was found too long (at least limit + 1)


@dataclass(frozen=True, slots=True)
class InvalidUtf8:
    """A complete line whose bytes are not UTF-8 (RFC 3629); ``offset`` is the first bad byte."""
    offset: int


FrameEvent = Line | LineTooLong | InvalidUtf8


class LineFramer:
    """Turn a byte stream into lines, whatever the reads look like.

    A read may hold half a line, several lines, or end in the middle of a multi-byte UTF-8 character:
    bytes are kept until their ``\\n`` arrives and only whole lines are decoded. At most ``max_line``
    (+1 for a ``\\r``) bytes are ever held: a longer line is reported once and skipped to its newline.
    """

    __slots__ = ("max_line", "_buf", "_discarding")

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._buf = bytearray()
        self._discarding = False

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for a newline."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[FrameEvent]:
        """Add the bytes of one read; return the events of every line they complete."""
        buf = self._buf
        buf += data
        events: list[FrameEvent] = []
        start = 0
        while (nl := buf.find(b"\n", start)) >= 0:
            end = nl - 1 if nl > start and buf[nl - 1] == 0x0D else nl
            if self._discarding:
                self._discarding = False
            elif end - start > self.max_line:
                events.append(LineTooLong(end - start))
            else:
                try:
                    events.append(Line(buf[start:end].decode("utf-8")))
                except UnicodeDecodeError as exc:
                    events.append(InvalidUtf8(exc.start))
            start = nl + 1
        del buf[:start]
        if self._discarding:
            buf.clear()
        elif len(buf) > self.max_line + 1:
            events.append(LineTooLong(len(buf)))
            self._discarding = True
            buf.clear()
        return events


def encode_line(text: str) -> bytes:
    """One line on the wire: UTF-8 and a ``\\n``; a newline inside would split the message."""
    if "\n" in text:
        raise ValueError(f"a chat line cannot contain a newline: {text!r}")
    return (text + "\n").encode("utf-8")
