"""Where every name in a message lies, piece by piece: what a figure needs to draw an arrow from each
compression pointer (RFC 1035 §4.1.4) to the name it reuses."""
from __future__ import annotations

from netstudy.wire.dns.message import _parse
from netstudy.wire.dns.name import NameSpan


def compression_map(data: bytes | bytearray | memoryview) -> list[NameSpan]:
    """Every name in a message and its pieces in place: labels, pointers (with targets) and root bytes.

    This is what a figure needs to draw an arrow from each compression pointer to the name it reuses.
    """
    spans: list[NameSpan] = []
    _parse(bytes(data), True, spans)
    return spans
