"""Rich display in Jupyter: a header or a packet as inline SVG and HTML, with no call.

``netstudy/__init__.py`` registers :func:`to_html` with IPython's HTML formatter for every
``Header`` and ``Packet``. The SVG is written by hand from the same layout as the matplotlib diagram
(no matplotlib import, a few milliseconds a header), and it is deterministic: element ids come from
header and field names, numbers are formatted to one decimal, nothing depends on time, memory
addresses or randomness, so nbval can compare the HTML of two runs.
"""
from __future__ import annotations

from html import escape
from typing import Any

from netstudy.show.colors import layer_color, text_color
from netstudy.show.layout import (
    BADGES,
    BIT_W,
    EDGE,
    LEFT,
    MONO,
    PX_PER_PT,
    ROW_H,
    RULER_H,
    SANS,
    TITLE_H,
    WIDTH,
    HeaderLayout,
    as_packet,
    box_style,
    layout_header,
    text_width,
    title_width,
)
from netstudy.wire.decode import Packet
from netstudy.wire.fields import Header, Stack

__all__ = ["to_html", "header_svg", "packet_html", "hexdump_html"]

_SANS = f"{SANS}, Verdana, sans-serif"
_MONO = f"{MONO}, Menlo, Consolas, monospace"
HEXDUMP_HTML_BYTES = 256      # a packet's HTML hexdump stops here (the text and figure ones go on)


def _n(v: float) -> str:
    """A coordinate, to one decimal, without a trailing .0."""
    text = f"{v:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def _text(x: float, y: float, text: str, size: float, *, mono: bool = False, fill: str = "#111111",
          anchor: str = "middle", weight: str = "normal", italic: bool = False, rotate: bool = False) -> str:
    attrs = [f'x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}"', f'text-anchor="{anchor}"',
             'dominant-baseline="central"', f'fill="{fill}"']
    if mono:
        attrs.append(f'font-family="{_MONO}"')
    if weight != "normal":
        attrs.append(f'font-weight="{weight}"')
    if italic:
        attrs.append('font-style="italic"')
    if rotate:
        attrs.append(f'transform="rotate(-90 {_n(x)} {_n(y)})"')
    return f"<text {' '.join(attrs)}>{escape(text, quote=False)}</text>"


def _svg_layout(lay: HeaderLayout, id_prefix: str) -> list[str]:
    out = []
    right = LEFT + 32 * BIT_W
    ty = lay.top + TITLE_H * 0.5
    title = f"{lay.name} header"
    out.append(_text(LEFT, ty, title, 12, anchor="start", weight="bold", fill=layer_color(lay.header)))
    out.append(_text(LEFT + title_width(title), ty, lay.subtitle, 8.5, anchor="start", fill="#546e7a"))
    if lay.status is not None:
        text, fg, bg = BADGES[lay.status]
        w = text_width(text, 8.5, bold=True) + 12
        out.append(f'<g class="ns-badge"><rect x="{_n(right - w)}" y="{_n(ty - 8)}" width="{_n(w)}" height="16" '
                   f'rx="6" fill="{bg}" stroke="{fg}" stroke-width="0.8"/>'
                   + _text(right - w / 2, ty, text, 8.5, fill=fg, weight="bold") + "</g>")
    grid = lay.grid_top
    for bit in range(32):
        x = LEFT + (bit + 0.5) * BIT_W
        if bit % 10 == 0:
            out.append(_text(x, grid - RULER_H + 7, str(bit // 10), 7.5, mono=True, fill="#37474f"))
        out.append(_text(x, grid - 8, str(bit % 10), 7.5, mono=True, fill="#37474f"))
    out.append(_text(LEFT - 6, grid - 8, "bit", 7, anchor="end", fill="#90a4ae"))
    for row in range(lay.rows):
        out.append(_text(LEFT - 6, grid + (row + 0.5) * ROW_H, str(row * 4), 7.5, mono=True, anchor="end",
                         fill="#78909c"))
    groups: dict[str, list[str]] = {}
    for box in lay.boxes:
        st = box_style(box)
        parts = groups.setdefault(box.key, [f"<title>{escape(box.tooltip, quote=False)}</title>"])
        dash = ' stroke-dasharray="3 2"' if st["hatch"] else ""
        parts.append(f'<rect x="{_n(box.x)}" y="{_n(box.y)}" width="{_n(box.w)}" height="{_n(box.h)}" '
                     f'fill="{st["fill"]}" stroke="{EDGE}" stroke-width="{_n(st["lw"])}"{dash}/>')
        for line in box.lines:
            color = {"hex": "#546e7a", "cont": "#78909c"}.get(line.role, st["text"])
            weight = "bold" if line.role == "value" or (st["bold"] and line.role == "name") else "normal"
            parts.append(_text(box.cx + line.dx, box.cy + line.dy, line.text, line.size,
                               mono=line.role in ("value", "hex"), fill=color, weight=weight,
                               italic=line.role == "cont", rotate=box.vertical))
    for key, parts in groups.items():
        out.append(f'<g id="{id_prefix}{_slug(key)}" class="ns-f">' + "".join(parts) + "</g>")
    if lay.options is not None:
        first, last, nbytes = lay.options
        x = right + 8
        y0, y1 = grid + first * ROW_H + 4, grid + (last + 1) * ROW_H - 4
        out.append(f'<polyline points="{_n(x)},{_n(y0)} {_n(x + 4)},{_n(y0)} {_n(x + 4)},{_n(y1)} {_n(x)},{_n(y1)}" '
                   f'fill="none" stroke="#546e7a"/>')
        out.append(_text(x + 9, (y0 + y1) / 2 - 6, "options", 8, anchor="start", fill="#37474f"))
        out.append(_text(x + 9, (y0 + y1) / 2 + 6, f"{nbytes} bytes", 8, anchor="start", fill="#37474f"))
    return out


_STYLE = "<style>.ns-f:hover>rect{stroke:#000;stroke-width:2}</style>"


def _svg(lay: HeaderLayout, id_prefix: str, style: bool = True) -> str:
    """One layout as an SVG element: drawn in points, shown at 96 dpi (4/3 CSS pixels a point) like the
    figures, and shrunk to fit a narrower page."""
    w, h = WIDTH, lay.height
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(w * PX_PER_PT)}" height="{_n(h * PX_PER_PT)}" '
            f'viewBox="0 0 {_n(w)} {_n(h)}" font-family="{_SANS}" style="max-width:100%;height:auto" '
            f'role="img" aria-label="{escape(lay.name)} header diagram">'
            + (_STYLE if style else "") + "".join(_svg_layout(lay, id_prefix)) + "</svg>")


def header_svg(header: Header, under: Header | None = None, status: str | None = "compute",
               id_prefix: str = "ns-") -> str:
    """The bit diagram of ``header`` as an SVG document (a string): boxes with values and hex, a tooltip
    per field (bit range, byte offset, struct code, meaning), the struct format and the checksum badge."""
    return _svg(layout_header(header, under=under, status=status), id_prefix)


# ----------------------------------------------------------------------------------------------------
# hexdump as HTML

def hexdump_html(packet: Packet, limit: int = HEXDUMP_HTML_BYTES) -> str:
    """A compact hexdump, bytes coloured by field (background) and layer (underline), field names as
    tooltips, a legend of layers."""
    from netstudy.show.hexdump import byte_map
    cells = byte_map(packet)
    data = packet.data
    lines = []
    shown = min(len(data), limit)
    for row in range(0, shown, 16):
        hexes, chars = [], []
        for i in range(row, min(row + 16, shown)):
            slices = cells[i]
            names = ", ".join(dict.fromkeys(f"{s.layer}.{s.field}" for s in slices))
            if len(slices) == 1:
                bg = slices[0].color
            else:
                stops = ",".join(f"{s.color} {s.start * 12.5:g}% {(s.start + s.bits) * 12.5:g}%" for s in slices)
                bg = f"linear-gradient(90deg,{stops})"
            style = f"background:{bg};border-bottom:3px solid {slices[0].layer_color}"
            sep = "  " if i % 16 == 8 else " " if i % 16 else ""
            hexes.append(f'{sep}<span title="{escape(names)} @{i}" style="{style}">{data[i]:02x}</span>')
            ch = chr(data[i]) if 32 <= data[i] < 127 else "\u00b7"
            chars.append(f'<span style="background:{slices[0].color}">{escape(ch)}</span>')
        pad = "   " * (16 - min(16, shown - row)) + (" " if shown - row <= 8 else "")
        lines.append(f'<span style="color:#78909c">{row:04x}</span>  {"".join(hexes)}{pad}  {"".join(chars)}')
    if len(data) > shown:
        lines.append(f'<span style="color:#78909c">\u2026 {len(data) - shown} more bytes</span>')
    spans = [(h.NAME, h.offset, h.offset + h.header_length) for h in packet.layers]
    if packet.remainder:
        start = spans[-1][2] if spans else 0
        spans.append(("malformed" if packet.error is not None else "payload", start, start + len(packet.remainder)))
    legend = " ".join(
        f'<span style="background:{layer_color(name)};color:{text_color(layer_color(name))};'
        f'padding:0 4px;border-radius:3px">{escape(name)} {start}\u2013{end - 1}</span>'
        for name, start, end in spans)
    return (f'<div style="font-size:11px;margin:2px 0">{legend}</div>'
            f'<pre style="font-family:{_MONO};font-size:12px;line-height:1.6;margin:0">' + "\n".join(lines) + "</pre>")


# ----------------------------------------------------------------------------------------------------
# whole packets, and the entry point IPython calls

def packet_html(packet: Packet) -> str:
    """A packet as HTML: its summary, one collapsible bit diagram per layer, and a coloured hexdump."""
    from netstudy.show.diagram import packet_layouts
    parts = [f'<div class="netstudy-packet" style="font-family:{_SANS}">',
             f'<div style="font-family:{_MONO};font-size:13px;font-weight:bold;margin:4px 0">'
             f'{escape(packet.summary())}</div>']
    if packet.error is not None:
        parts.append(f'<div style="color:#b71c1c;font-size:12px">[Malformed {escape(packet.error.layer)}: '
                     f'{escape(str(packet.error))}]</div>')
    for i, lay in enumerate(packet_layouts(packet, stacked=False)):
        header = lay.header
        badge = f" \u00b7 {BADGES[lay.status][0]}" if lay.status else ""
        svg = _svg(lay, f"ns-{i}-", style=i == 0)
        parts.append(f'<details open><summary style="cursor:pointer;font-size:12px;color:{layer_color(header)}">'
                     f'<b>{escape(header.NAME)}</b> \u00b7 {header.header_length} bytes at offset {header.offset}'
                     f'{escape(badge)}</summary>{svg}</details>')
    parts.append(f'<details open><summary style="cursor:pointer;font-size:12px">hexdump \u00b7 '
                 f'{len(packet.data)} bytes</summary>{hexdump_html(packet)}</details></div>')
    return "".join(parts)


def to_html(obj: Any) -> str:
    """Rich HTML for a ``Header`` (its bit diagram as SVG) or a ``Packet``/``Stack`` (summary, a diagram
    per layer, hexdump). Deterministic, so notebooks can be compared by nbval."""
    if isinstance(obj, Header):
        return f'<div class="netstudy-header">{header_svg(obj)}</div>'
    if isinstance(obj, (Packet, Stack)):
        return packet_html(as_packet(obj))
    raise TypeError(f"to_html draws headers and packets, not {type(obj).__name__}")
