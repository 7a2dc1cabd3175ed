"""Colours that stay put: a field has the same colour in every bit diagram, hexdump and SVG.

A header's fixed fields take consecutive colours of a light qualitative palette, in table order and
starting at a place fixed by the header's protocol (the first word of its name: every ICMP message's
type, code and checksum share their colours, whether it is an echo or a time exceeded), so neighbouring
fields always differ and ``IPv4.ttl``
is the same colour today, tomorrow and in every figure. Fields that are not in the table (options,
padding) take a colour from a stable hash of their name (CRC-32, not ``hash()``, which changes
between runs). Layers (Ethernet, IPv4, TCP...) have stronger colours of their own, used for the
layer bands of a hexdump and the bars of a layers diagram.
"""
from __future__ import annotations

import zlib

from netstudy.wire.fields import Header

__all__ = ["FIELD_PALETTE", "PAYLOAD_COLOR", "PADDING_COLOR", "field_color", "layer_color", "text_color"]

# light enough for black text: Tableau 20's light half and ColorBrewer Set3, interleaved so that
# consecutive entries differ in hue
FIELD_PALETTE = (
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#dbdb8d", "#9edae5", "#f7b6d2",
    "#ffe18f", "#b3de69", "#bebada", "#fdb462", "#8dd3c7", "#fccde5", "#d7b99b", "#ccebc5",
)
PADDING_COLOR = "#e4e4e4"
PAYLOAD_COLOR = "#d4d4d4"

# a layer's colour by its name (the longest matching prefix wins); link layers share blue
_LAYER_COLORS = (
    ("Ethernet", "#4e79a7"), ("802.1Q", "#76b7b2"), ("Linux cooked", "#4e79a7"), ("Loopback", "#4e79a7"),
    ("ARP", "#d4a017"), ("IPv4", "#f28e2b"), ("IPv6", "#e15759"), ("IPv6 ", "#ff9da7"),
    ("TCP", "#59a14f"), ("UDP", "#b07aa1"), ("ICMP", "#9c755f"), ("ICMPv6", "#9c755f"),
    ("DNS", "#17becf"), ("payload", "#8c8c8c"),
)
_EXTRA_LAYER_COLORS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#9c755f")


def _stable(text: str) -> int:
    return zlib.crc32(text.encode())


def field_color(header: Header | type[Header] | str, field: str) -> str:
    """The colour of ``field`` of ``header`` (an instance, a class, or its NAME): the same in every figure."""
    cls = header if isinstance(header, type) else type(header) if isinstance(header, Header) else None
    name = header if isinstance(header, str) else header.NAME
    if field == "padding":
        return PADDING_COLOR
    if cls is not None:
        for i, f in enumerate(cls.FIELDS):
            if f.name == field:
                return FIELD_PALETTE[(_stable(name.split(" ")[0]) + i) % len(FIELD_PALETTE)]
    return FIELD_PALETTE[_stable(f"{name}.{field}") % len(FIELD_PALETTE)]


def layer_color(header: Header | type[Header] | str) -> str:
    """The colour of a whole layer (``'IPv4'``, a TCP header...): hexdump bands, layers diagram bars."""
    name = header if isinstance(header, str) else header.NAME
    best = ""
    color = None
    for prefix, c in _LAYER_COLORS:
        if name.startswith(prefix) and len(prefix) > len(best):
            best, color = prefix, c
    return color or _EXTRA_LAYER_COLORS[_stable(name) % len(_EXTRA_LAYER_COLORS)]


def text_color(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (``#rrggbb``)."""
    r, g, b = (int(background[i:i + 2], 16) for i in (1, 3, 5))
    return "#111111" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#ffffff"
