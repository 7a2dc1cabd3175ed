"""Where every box and label of a bit diagram goes, computed once for both renderers.

The layout is plain geometry in points (1/72 inch): the matplotlib figure (``diagram.py``) and the
hand-written SVG (``html.py``) draw the same boxes at the same places with the same text, so a
header looks alike in a saved figure and in a notebook's rich output. Nothing here imports
matplotlib, so the SVG path stays fast.

Text widths are estimated from DejaVu's advance widths (the font both renderers ask for) rather
than measured, which keeps layout deterministic and cheap; estimates err on the wide side.
"""
from __future__ import annotations

import copy
import ipaddress
import math
from dataclasses import dataclass
from typing import Any

from netstudy.show.colors import field_color
from netstudy.wire.decode import LINKTYPES, Packet, decode, decode_ip
from netstudy.wire.fields import FieldView, Header, Stack

__all__ = ["BIT_W", "ROW_H", "Box", "Line", "HeaderLayout", "layout_header", "checksum_status",
           "BADGES", "text_width", "hex_of", "value_of", "is_built", "as_packet"]

BIT_W = 22.0            # one bit, in points: a 32-bit row is 704 pt wide
ROW_H = 44.0            # one 32-bit row
LEFT = 46.0             # byte offsets of the rows
RIGHT = 64.0            # the options bracket
TITLE_H = 30.0
RULER_H = 26.0
BOTTOM = 8.0
PAD = 4.0               # inside a box, around its text
WIDTH = LEFT + 32 * BIT_W + RIGHT

NAME_MAX, NAME_MIN = 8.5, 6.0
VALUE_BONUS = 1.0       # the value is set one point larger than the name
PX_PER_PT = 96 / 72     # how big drawings show in a browser: 96 dpi, as CSS and matplotlib's own figures
SANS = "DejaVu Sans"
EDGE = "#37474f"
MONO = "DejaVu Sans Mono"

# status -> (text, text colour, background)
BADGES = {
    "good": ("checksum \u2713 verifies", "#1b5e20", "#dcedc8"),
    "bad": ("checksum \u2717 wrong", "#b71c1c", "#ffcdd2"),
    "offloaded": ("checksum offloaded (left for the NIC)", "#7a4f01", "#ffe0a3"),
    "unverified": ("checksum not verified", "#424242", "#e0e0e0"),
    "none": ("no checksum (0)", "#424242", "#e0e0e0"),
    "auto": ("checksum filled in when built", "#0d47a1", "#d6e6fb"),
}


# ----------------------------------------------------------------------------------------------------
# text measuring

_NARROW = set("iljtfrI.,:;'|!()[] ")
_WIDE = set("mwMW@%")


def text_width(text: str, size: float, mono: bool = False, bold: bool = False) -> float:
    """Estimated advance width of ``text`` at ``size`` points in DejaVu Sans (or Sans Mono; bold Sans
    is about a tenth wider)."""
    if mono:
        return 0.602 * size * len(text)
    if bold:
        return 1.1 * text_width(text, size)
    em = 0.0
    for c in text:
        if c in _NARROW:
            em += 0.34
        elif c in _WIDE:
            em += 0.92
        elif c.isupper():
            em += 0.72
        else:
            em += 0.62
    return em * size


def fit_text(text: str, width: float, size: float, mono: bool = False) -> str:
    """``text``, cut with an ellipsis if it is wider than ``width`` points at ``size``."""
    if text_width(text, size, mono) <= width:
        return text
    while text and text_width(text + "\u2026", size, mono) > width:
        text = text[:-1]
    return text + "\u2026"


# ----------------------------------------------------------------------------------------------------
# what a field's box says

def is_built(header: Header) -> bool:
    """True for a header made in Python (not parsed from bytes): it has no buffer of its own yet."""
    return not getattr(header, "_buf", b"x")


def hex_of(view: FieldView) -> str:
    """The field's bits in hex, when that adds something to its decoded value (``ttl 64`` -> ``0x40``)."""
    raw = view.raw
    if isinstance(raw, int):
        if view.bits < 8 or view.text.startswith("0x"):
            return ""
        return f"0x{raw:0{(view.bits + 3) // 4}x}"
    if isinstance(raw, (bytes, bytearray)) and 0 < len(raw) <= 4 and not view.text.startswith(raw.hex()[:2]):
        return "0x" + bytes(raw).hex()
    if isinstance(raw, (bytes, bytearray)) and len(raw) == 16 and "::" in view.text:
        return str(ipaddress.IPv6Address(bytes(raw)).exploded)      # what the :: stands for
    return ""


def full_hex(view: FieldView) -> str:
    """The field's bits in hex, always (for tooltips and tables)."""
    raw = view.raw
    if isinstance(raw, int):
        return f"0x{raw:0{max(1, (view.bits + 3) // 4)}x}"
    return "0x" + bytes(raw).hex() if raw else ""


def value_of(header: Header, view: FieldView) -> str:
    """The value a box shows: ``auto`` for a length or checksum still to be filled in, options without
    their repeated name (``mss 1460`` -> ``1460``)."""
    if view.bit_offset < type(header).MIN_LENGTH * 8 and not header.is_set(view.name):
        return "auto"
    name = display_name(view)
    if view.name.startswith("option "):
        text = view.text
        return text[len(name):].strip() if text.startswith(name) else text
    if view.name == "padding":
        return ""
    return view.text


_SHORT_WORDS = {"reserved": "res", "identification": "ident", "fragment": "frag", "offset": "off",
                "length": "len", "checksum": "cksum", "address": "addr", "hardware": "hw", "protocol": "proto",
                "pointer": "ptr", "sequence": "seq", "number": "num", "window": "win", "source": "src",
                "destination": "dst", "header": "hdr", "traffic": "tc", "segments": "segs", "urgent": "urg",
                "interface": "if", "identifier": "id", "options": "opts"}


def display_name(view: FieldView) -> str:
    """The name a box shows: options without their ``option`` prefix; short one-bit flags in capitals
    as the RFCs write them (``DF``, ``SYN``, ``ACK``)."""
    name = view.name[7:] if view.name.startswith("option ") else view.name
    if view.bits == 1 and isinstance(view.value, bool):
        name = name.removesuffix("_flag")
        return name.upper() if len(name) <= 3 else name
    return name


def abbreviate(name: str) -> str:
    """A shorter name for a narrow box: ``fragment_offset`` -> ``frag off``, ``reserved`` -> ``res``."""
    words = name.replace("_", " ").split()
    return " ".join(_SHORT_WORDS.get(w, w if len(w) <= 5 else w[:4]) for w in words)


# ----------------------------------------------------------------------------------------------------
# the layout

@dataclass(frozen=True, slots=True)
class Line:
    """One line of a box's label, centred at (dx, dy) from the box centre."""

    text: str
    size: float
    role: str            # name | value | hex | cont
    dx: float
    dy: float


@dataclass(slots=True)
class Box:
    """One rectangle of a field. A field that crosses a row boundary has several; one carries the label."""

    view: FieldView
    key: str             # "IPv4.ttl": stable, for element ids and figure gids
    x: float
    y: float
    w: float
    h: float
    color: str
    kind: str            # field | option | padding
    lines: tuple[Line, ...] = ()
    vertical: bool = False
    flag: bool | None = None      # a one-bit flag: its value, for emphasis
    first: bool = True            # the first piece of its field
    tooltip: str = ""

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


@dataclass(slots=True)
class HeaderLayout:
    """A whole header diagram, in points, origin at the top left."""

    header: Header
    name: str
    length: int
    struct_format: str
    rows: int
    boxes: list[Box]
    status: str | None
    top: float = 0.0                        # where this diagram starts (several stack in one figure)
    options: tuple[int, int, int] | None = None   # first row, last row, bytes

    @property
    def grid_top(self) -> float:
        return self.top + TITLE_H + RULER_H

    @property
    def height(self) -> float:
        return self.grid_top - self.top + self.rows * ROW_H + BOTTOM

    @property
    def subtitle(self) -> str:
        fixed = type(self.header).MIN_LENGTH
        extra = f" ({fixed} fixed + {self.length - fixed} options)" if self.length > fixed else ""
        return f"{self.length} bytes{extra} \u00b7 struct '{self.struct_format}'"


def checksum_status(header: Header, under: Header | None = None) -> str | None:
    """How the header's checksum stands (``good``, ``bad``, ``offloaded``, ``unverified``, ``none``,
    ``auto`` when building will fill it), or None for a header without one."""
    if not (hasattr(header, "checksum_ok") or hasattr(header, "checksum_status")):
        return None
    if any(f.name == "checksum" for f in header.FIELDS) and not header.is_set("checksum"):
        return "auto"
    if hasattr(header, "checksum_ok"):
        if is_built(header) and not all(header.is_set(f.name) for f in header.FIELDS):
            return "auto"                     # bytes() would fill the other auto fields: leave them be
        return "good" if header.checksum_ok() else "bad"
    if is_built(header) or not hasattr(header, "checksum_status"):
        return "unverified"                   # no payload and no IP header: nothing to sum over
    try:
        return header.checksum_status(under)
    except ValueError:                        # e.g. an ``under`` that is not the IP header below
        return "unverified"


# ----------------------------------------------------------------------------------------------------
# styles shared by both renderers

def title_width(title: str) -> float:
    """Room taken by a diagram's bold 12-point title, with the gap before the subtitle."""
    return text_width(title, 12, bold=True) + 16


def lighter(color: str, amount: float) -> str:
    """``color`` mixed with white (amount 0: unchanged, 1: white)."""
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c + (255 - c) * amount):02x}" for c in (r, g, b))


def box_style(box: Box) -> dict[str, Any]:
    """Fill, edge and text style of a box: set flags stand out, clear ones fade, padding is hatched."""
    fill = box.color
    if box.flag is False:
        fill = lighter(fill, 0.55)
    return {"fill": fill, "edge": EDGE, "lw": 1.6 if box.flag else 0.8,
            "text": "#78909c" if box.flag is False else "#111111", "bold": bool(box.flag),
            "hatch": box.kind == "padding"}


def _candidates(name: str, value: str, hexs: str) -> list[tuple[tuple[tuple[str, str], ...], float, bool]]:
    """Labels to try, most informative first: (lines as (text, role)), the smallest size allowed, vertical."""
    abbr = abbreviate(name)
    nv = ((name, "name"), (value, "value")) if value else ((name, "name"),)
    av = ((abbr, "name"), (value, "value")) if value else ((abbr, "name"),)
    one = f"{abbr}={value}" if value else abbr
    out = []
    if hexs:
        out.append((nv + ((hexs, "hex"),), 7.5, False))
    out += [(nv, 6.5, False), (nv, 7.0, True), (av, 6.5, False), (((one, "value"),), 6.0, False),
            (av, 6.0, True), (((one, "value"),), 6.0, True), (((abbr, "name"),), 5.5, True)]
    return out


def _sizes(role: str, size: float) -> float:
    if role == "value":
        return size + VALUE_BONUS
    if role == "hex":
        return size - 0.5
    return size


def _line_height(size: float) -> float:
    return size * 1.18


def _place(lines: tuple[tuple[str, str], ...], size: float, vertical: bool) -> tuple[Line, ...]:
    heights = [_line_height(_sizes(role, size)) for _, role in lines]
    total = sum(heights)
    out, pos = [], -total / 2
    for (text, role), h in zip(lines, heights, strict=True):
        off = pos + h / 2
        out.append(Line(text, _sizes(role, size), role, off if vertical else 0.0, 0.0 if vertical else off))
        pos += h
    return tuple(out)


def _fits(lines: tuple[tuple[str, str], ...], size: float, w: float, h: float) -> bool:
    width = max(text_width(t, _sizes(r, size), mono=r != "name") for t, r in lines)
    height = sum(_line_height(_sizes(r, size)) for _, r in lines)
    return width <= w - 2 * _pad(w) and height <= h - 2 * _pad(h)


def _pad(extent: float) -> float:
    """Room kept between text and the edge of a box: less in a one-bit box, where every point counts."""
    return PAD if extent > 30 else PAD / 2


def fit_label(name: str, value: str, hexs: str, w: float, h: float) -> tuple[tuple[Line, ...], bool]:
    """The most informative label that fits a ``w`` x ``h`` box, at the largest size that fits."""
    for lines, smallest, vertical in _candidates(name, value, hexs):
        bw, bh = (h, w) if vertical else (w, h)
        size = NAME_MAX
        while size >= smallest:
            if _fits(lines, size, bw, bh):
                return _place(lines, size, vertical), vertical
            size -= 0.5
    # nothing fits: the abbreviated name, cut to the box, at the smallest size
    abbr = abbreviate(name)
    vertical = h > w
    room = (max(w, h) - 2 * PAD) / (0.62 * 5.5)
    text = abbr if len(abbr) <= room else abbr[:max(1, int(room) - 1)] + "\u2026"
    return _place(((text, "name"),), 5.5, vertical), vertical


def _tooltip(header: Header, view: FieldView) -> str:
    last = view.bit_offset + view.bits - 1
    bits = f"bit {view.bit_offset}" if view.bits == 1 else f"bits {view.bit_offset}\u2013{last}"
    nbytes = f"{view.bits // 8} bytes" if view.bits % 8 == 0 and view.bits > 8 else f"{view.bits} bits"
    hexs = full_hex(view)
    value = value_of(header, view) or view.text or "-"
    head = f"{header.NAME}.{view.name} = {value}" + (f" ({hexs})" if hexs and hexs != value else "")
    return (f"{head}\n{bits} ({nbytes}), byte offset {view.byte_offset}, struct code '{view.struct_code}'\n"
            f"{view.meaning}")


def _pieces(bit: int, bits: int) -> list[tuple[int, int, int, int]]:
    """(row, first bit in row, bits wide, rows tall): a field cut at row boundaries, whole rows merged."""
    out = []
    end = bit + bits
    while bit < end:
        row, col = divmod(bit, 32)
        if col == 0 and end - bit >= 64:
            n = (end - bit) // 32
            out.append((row, 0, 32, n))
            bit += 32 * n
        else:
            take = min(32 - col, end - bit)
            out.append((row, col, take, 1))
            bit += take
    return out


def layout_header(header: Header, under: Header | None = None, status: str | None = "compute",
                  top: float = 0.0) -> HeaderLayout:
    """Lay out ``header`` as an RFC 791-style diagram: 32 bits a row, a box per field (cut at row
    ends, whole rows merged), the label that fits each box, colours, tooltips, the checksum status."""
    views = header.fields()
    length = header.header_length
    total_bits = max([length * 8] + [v.bit_offset + v.bits for v in views])
    rows = max(1, math.ceil(total_bits / 32))
    if status == "compute":
        status = checksum_status(header, under)
    lay = HeaderLayout(header, header.NAME, length, header.struct_format, rows, [], status, top=top)
    fixed_bits = type(header).MIN_LENGTH * 8
    grid_top = lay.grid_top
    for view in views:
        kind = "padding" if view.name == "padding" else "option" if view.bit_offset >= fixed_bits else "field"
        color = field_color(header, view.name)
        key = f"{header.NAME}.{view.name}@{view.bit_offset}" if kind != "field" else f"{header.NAME}.{view.name}"
        pieces = _pieces(view.bit_offset, view.bits)
        label_at = max(range(len(pieces)), key=lambda i: (pieces[i][2] * pieces[i][3], -i))
        flag = bool(view.value) if view.bits == 1 and isinstance(view.value, bool) else None
        tooltip = _tooltip(header, view)
        for i, (row, col, width, tall) in enumerate(pieces):
            box = Box(view, key, LEFT + col * BIT_W, grid_top + row * ROW_H, width * BIT_W, tall * ROW_H,
                      color, kind, flag=flag, first=i == 0, tooltip=tooltip)
            if i == label_at:
                box.lines, box.vertical = fit_label(display_name(view), value_of(header, view), hex_of(view),
                                                    box.w, box.h)
            else:
                cont = f"{display_name(view)} (cont.)"
                if text_width(cont, 7.0) <= box.w - 2 * PAD:
                    box.lines = (Line(cont, 7.0, "cont", 0.0, 0.0),)
            lay.boxes.append(box)
    option_views = [v for v in views if v.bit_offset >= fixed_bits]
    if option_views:
        first = option_views[0].bit_offset // 32
        last = (max(v.bit_offset + v.bits for v in option_views) - 1) // 32
        lay.options = (first, last, length - type(header).MIN_LENGTH)
    return lay


# ----------------------------------------------------------------------------------------------------
# what to draw: anything that holds bytes, as a decoded packet

def as_packet(obj: Any, linktype: int = 1) -> Packet:
    """A decoded :class:`Packet` from a Packet, raw bytes (read as ``linktype``), a ``Stack`` or a
    ``Header``. Building a stack or a header here works on copies, so a header you display keeps
    its lengths and checksums unset (``auto``) until you build it yourself."""
    if isinstance(obj, Packet):
        return obj
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return decode(obj, linktype)
    if isinstance(obj, Header):
        data = bytes(copy.deepcopy(obj)) if is_built(obj) else bytes(obj) + obj.payload
        first = type(obj)
    elif isinstance(obj, Stack):
        if not obj.layers:
            return decode(obj.payload, linktype)
        data = copy.deepcopy(obj).build()
        first = type(obj.layers[0])
    else:
        raise TypeError(f"cannot show {type(obj).__name__}: give a Packet, a Header, a Stack or bytes")
    for number, cls in LINKTYPES.items():
        if cls is first:
            return decode(data, number)
    if first.NAME in ("IPv4", "IPv6"):
        return decode_ip(data)
    return decode(data, first=first)            # a lone upper-layer header: no link layer to start from
