"""Header bit diagrams and encapsulation diagrams as matplotlib figures.

``header_diagram(ip)`` draws a header the way RFC 791 does (32 bits a row, bit numbers on top, a box
per field) and adds what an RFC figure cannot: each field's decoded value and hex, options sized from
the length field, the ``struct`` format, and whether the checksum verifies. ``layers_diagram(packet)``
draws the encapsulation (Ethernet ⊃ IPv4 ⊃ TCP ⊃ payload) as nested bars with byte counts.

Figures are ``matplotlib.figure.Figure`` objects made without pyplot: a notebook shows the one a cell
returns exactly once, and nothing piles up in pyplot's list of open figures.
"""
from __future__ import annotations

import functools
import io
import itertools
from typing import Any

from netstudy.errors import InputError
from netstudy.show.colors import PADDING_COLOR, PAYLOAD_COLOR, layer_color, text_color
from netstudy.show.layout import (
    BADGES,
    BIT_W,
    EDGE,
    LEFT,
    MONO,
    PAD,
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
from netstudy.wire.decode import LINKTYPES, Packet
from netstudy.wire.fields import Header

__all__ = ["header_diagram", "layers_diagram", "packet_layouts", "figure_in_points", "plot_figure", "add_patch"]

GAP = 14.0                      # between the diagrams of a packet's layers


@functools.cache
def _figure_class() -> type:
    """matplotlib's Figure, able to show itself in Jupyter without pyplot (imported on first use)."""
    from matplotlib.figure import Figure as MatplotlibFigure

    class Figure(MatplotlibFigure):
        """A Figure that Jupyter shows as a PNG when a cell returns it, at the size of the SVG of the rich
        display (96 dpi) with 1.5 times the pixels, so it stays sharp. Made without pyplot, it is shown
        once, and pyplot's list of open figures does not grow."""

        def _repr_png_(self) -> tuple[bytes, dict[str, int]]:
            buf = io.BytesIO()
            self.savefig(buf, format="png", dpi=144)
            width, height = self.get_size_inches()
            scale = 72 * PX_PER_PT
            return buf.getvalue(), {"width": round(width * scale), "height": round(height * scale)}

    return Figure


def figure_in_points(width: float, height: float) -> tuple[Any, Any]:
    """A Figure whose one Axes spans it with data units of points, y growing downwards."""
    fig = _figure_class()(figsize=(width / 72, height / 72))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_axis_off()
    return fig, ax


def add_patch(ax: Any, patch: Any) -> None:
    """Add a patch without ``Axes.add_patch``'s data-limit update: our limits are fixed, and that update
    is most of the time a figure of a few hundred boxes takes."""
    ax.add_artist(patch)


def plot_figure(width: float, height: float) -> tuple[Any, Any]:
    """A Figure (``width`` x ``height`` inches) with one ordinary Axes, made without pyplot."""
    fig = _figure_class()(figsize=(width, height))
    return fig, fig.add_subplot()


def _draw_layout(ax: Any, lay: HeaderLayout) -> None:
    from matplotlib.patches import FancyBboxPatch, Rectangle
    right = LEFT + 32 * BIT_W
    # title, subtitle, checksum badge
    ty = lay.top + TITLE_H * 0.5
    title = f"{lay.name} header"
    ax.text(LEFT, ty, title, fontsize=12, fontweight="bold", family=SANS, va="center", ha="left",
            color=layer_color(lay.header))
    ax.text(LEFT + title_width(title), ty, lay.subtitle, fontsize=8.5, family=SANS,
            va="center", ha="left", color="#546e7a", parse_math=False)
    if lay.status is not None:
        text, fg, bg = BADGES[lay.status]
        w = text_width(text, 8.5, bold=True) + 12
        add_patch(ax, FancyBboxPatch((right - w, ty - 8), w, 16, boxstyle="round,pad=0,rounding_size=6",
                                     facecolor=bg, edgecolor=fg, linewidth=0.8))
        ax.text(right - w / 2, ty, text, fontsize=8.5, family=SANS, color=fg, va="center", ha="center",
                fontweight="bold")
    grid = lay.grid_top
    # bit ruler: tens and units, as in the RFCs
    for bit in range(32):
        x = LEFT + (bit + 0.5) * BIT_W
        if bit % 10 == 0:
            ax.text(x, grid - RULER_H + 7, str(bit // 10), fontsize=7.5, family=MONO, ha="center",
                    va="center", color="#37474f")
        ax.text(x, grid - 8, str(bit % 10), fontsize=7.5, family=MONO, ha="center", va="center",
                color="#37474f")
    ax.text(LEFT - 6, grid - 8, "bit", fontsize=7, family=SANS, ha="right", va="center", color="#90a4ae")
    # byte offset of each row
    for row in range(lay.rows):
        ax.text(LEFT - 6, grid + (row + 0.5) * ROW_H, str(row * 4), fontsize=7.5, family=MONO, ha="right",
                va="center", color="#78909c")
    for box in lay.boxes:
        st = box_style(box)
        if st["hatch"]:                  # light hatching under the border, so the border stays dark
            add_patch(ax, Rectangle((box.x, box.y), box.w, box.h, facecolor=st["fill"], edgecolor="#bdbdbd",
                                    linewidth=0, hatch="////"))
        rect = Rectangle((box.x, box.y), box.w, box.h, facecolor="none" if st["hatch"] else st["fill"],
                         edgecolor=EDGE, linewidth=st["lw"])
        rect.set_gid(box.key)
        add_patch(ax, rect)
        for line in box.lines:
            family = SANS if line.role in ("name", "cont") else MONO
            color = {"hex": "#546e7a", "cont": "#78909c"}.get(line.role, st["text"])
            weight = "bold" if line.role == "value" or (st["bold"] and line.role == "name") else "normal"
            ax.text(box.cx + line.dx, box.cy + line.dy, line.text, fontsize=line.size, family=family,
                    color=color, fontweight=weight, ha="center", va="center", rotation=90 if box.vertical else 0,
                    fontstyle="italic" if line.role == "cont" else "normal", rotation_mode="anchor", parse_math=False,
                    bbox=dict(facecolor=st["fill"], edgecolor="none", pad=1) if st["hatch"] else None)
    if lay.options is not None:
        first, last, nbytes = lay.options
        x = right + 8
        y0, y1 = grid + first * ROW_H + 4, grid + (last + 1) * ROW_H - 4
        ax.plot([x, x + 4, x + 4, x], [y0, y0, y1, y1], color="#546e7a", linewidth=1)
        ax.text(x + 9, (y0 + y1) / 2, f"options\n{nbytes} bytes", fontsize=8, family=SANS, ha="left",
                va="center", color="#37474f", linespacing=1.3)


def packet_layouts(packet: Packet, stacked: bool = True) -> list[HeaderLayout]:
    """One layout per layer of ``packet``, each knowing its checksum status in the packet; ``stacked``:
    one under the other in a single drawing, else each starting at the top of its own."""
    status = packet.checksums()
    layouts, top = [], 0.0
    for layer in packet.layers:
        has_sum = hasattr(layer, "checksum_ok") or hasattr(layer, "checksum_status")
        lay = layout_header(layer, status=status.get(layer.NAME, "unverified") if has_sum else None, top=top)
        layouts.append(lay)
        if stacked:
            top += lay.height + GAP
    return layouts


def _pick(packet: Packet, layer: int | str | type[Header]) -> Header:
    if isinstance(layer, int):
        return packet.layers[layer]
    for h in packet.layers:
        if (isinstance(layer, str) and layer == h.NAME) or (isinstance(layer, type) and isinstance(h, layer)):
            return h
    raise KeyError(f"no layer {layer!r} in {packet.summary()}; layers: {', '.join(h.NAME for h in packet)}")


def header_diagram(obj: Header | Packet | Any, layer: int | str | type[Header] | None = None,
                   under: Header | None = None, linktype: int = 1) -> Any:
    """An RFC 791-style bit diagram of a header, as a matplotlib Figure.

    ``obj`` is a header (parsed or built), or a decoded ``Packet`` / raw bytes / ``Stack`` with
    ``layer`` naming one layer (an index, a class such as ``TCP``, or a name); with no ``layer``, every
    layer of the packet is drawn, one diagram under the other. ``under`` is the IP header below a
    lone TCP/UDP header, needed to verify its checksum (a packet knows its own).
    """
    if isinstance(obj, Header):
        layouts = [layout_header(obj, under=under)]
    else:
        packet = as_packet(obj, linktype)
        if layer is None:
            layouts = packet_layouts(packet)
        else:
            chosen = _pick(packet, layer)
            layouts = [lay for lay in packet_layouts(packet, stacked=False) if lay.header is chosen]
        if not layouts:
            raise InputError(f"nothing decoded to draw: {packet.summary()}")
    height = sum(lay.height for lay in layouts) + GAP * (len(layouts) - 1)
    fig, ax = figure_in_points(WIDTH, height)
    for lay in layouts:
        _draw_layout(ax, lay)
    return fig


# ----------------------------------------------------------------------------------------------------
# encapsulation

_PDU = {"Ethernet": "frame", "IPv4": "packet", "IPv6": "packet", "TCP": "segment", "UDP": "datagram"}
STRIP = 18.0        # the title strip of each nested bar
INSET = 6.0
CORE = 40.0
MIN_SHARE = 0.075   # a segment narrower than this share of the width is widened to stay readable


def encapsulation(packet: Packet) -> list[tuple[str, int, int, int]]:
    """(layer name, start, header end, end) of each layer, outermost first; ends count what the layer
    carries, so bytes after an inner layer's end (Ethernet padding) belong to the outer one only."""
    spans = []
    for h in packet.layers:
        start = h.offset
        head = start + h.header_length
        spans.append((h.NAME, start, head, head + len(h.payload)))
    return spans


def _scale(breaks: list[int], width: float) -> tuple[dict[int, float], bool]:
    """x of each byte boundary: proportional, with tiny segments widened (and the rest shrunk)."""
    total = breaks[-1] - breaks[0] or 1
    shares = [max((b - a) / total, MIN_SHARE) for a, b in itertools.pairwise(breaks)]
    widened = any((b - a) / total < MIN_SHARE for a, b in itertools.pairwise(breaks))
    norm = sum(shares)
    xs, x = {breaks[0]: 0.0}, 0.0
    for b, s in zip(breaks[1:], shares, strict=True):
        x += s / norm * width
        xs[b] = x
    return xs, widened


def _fit(ax: Any, x: float, y: float, w: float, texts: list[str], size: float, **kw: Any) -> None:
    """The first of ``texts`` that fits ``w`` points, at ``size``; nothing if none does."""
    for text in texts:
        if text_width(text, size, bold=kw.get("fontweight") == "bold") <= w - 2 * PAD:
            ax.text(x, y, text, fontsize=size, family=SANS, **kw)
            return


def layers_diagram(obj: Packet | Any, linktype: int = 1) -> Any:
    """The encapsulation of a packet as nested bars: each layer's header, and inside its payload the
    next layer, with byte counts (widths follow byte counts; small headers are widened to be read)."""
    from matplotlib.patches import Rectangle
    packet = as_packet(obj, linktype)
    spans = encapsulation(packet)
    n = len(spans)
    total = len(packet.data)
    breaks = sorted({0, total} | {v for s in spans for v in s[1:]})
    width, left, top = 720.0, 24.0, 34.0
    xs, widened = _scale(breaks, width)
    X = {b: left + x for b, x in xs.items()}
    bottom = top + n * STRIP + CORE + n * INSET
    fig, ax = figure_in_points(left * 2 + width, bottom + 30)
    names = [s[0] for s in spans] + (["payload"] if packet.remainder else [])
    unit = "frame" if LINKTYPES.get(packet.linktype) is not None else "packet"     # raw IP: no link layer
    title = f"{total}-byte {unit}: " + " \u2283 ".join(names) if names else f"{total} bytes, nothing decoded"
    ax.text(left, 14, title, fontsize=11, fontweight="bold", family=SANS, va="center")
    if widened:
        ax.text(left + width, 14, "widths follow byte counts; small parts widened to be legible",
                fontsize=7.5, family=SANS, va="center", ha="right", color="#78909c")
    for i, (name, start, head, end) in enumerate(spans):
        color = layer_color(name)
        y0, y1 = top + i * STRIP, bottom - i * INSET
        add_patch(ax, Rectangle((X[start], y0), X[end] - X[start], y1 - y0, facecolor=color + "1f",
                                edgecolor=color, linewidth=1.4, gid=f"layer:{name}"))
        pdu = _PDU.get(name, "")
        _fit(ax, X[start] + 4, y0 + STRIP / 2, X[end] - X[start],
             [f"{name} {pdu} \u00b7 {end - start} bytes".replace("  ", " "), f"{name} \u00b7 {end - start} B",
              name], 8.5, fontweight="bold", color=color, va="center", ha="left")
        hy0, hy1 = y0 + STRIP, y1 - INSET
        add_patch(ax, Rectangle((X[start], hy0), X[head] - X[start], hy1 - hy0, facecolor=color,
                                edgecolor="white", linewidth=1, gid=f"header:{name}"))
        fg = text_color(color)
        _fit(ax, (X[start] + X[head]) / 2, (hy0 + hy1) / 2 - 6, X[head] - X[start],
             [f"{name} header", name, "hdr"], 8, color=fg, ha="center", va="center")
        _fit(ax, (X[start] + X[head]) / 2, (hy0 + hy1) / 2 + 7, X[head] - X[start],
             [f"{head - start} bytes", f"{head - start} B", str(head - start)], 8, color=fg, ha="center",
             va="center", fontweight="bold")
        inner_end = spans[i + 1][3] if i + 1 < n else head
        if end > inner_end and i + 1 < n:          # bytes this layer carries after the inner one: padding
            add_patch(ax, Rectangle((X[inner_end], hy0), X[end] - X[inner_end], hy1 - hy0,
                                    facecolor=PADDING_COLOR, edgecolor="white", hatch="////", gid=f"padding:{name}"))
            _fit(ax, (X[inner_end] + X[end]) / 2, (hy0 + hy1) / 2, X[end] - X[inner_end],
                 [f"padding {end - inner_end} B", f"{end - inner_end} B"], 8, ha="center", va="center",
                 color="#37474f")
    if spans:
        name, start, head, end = spans[-1]
        if end > head:
            y0, y1 = top + n * STRIP, bottom - n * INSET
            what = ("malformed " + packet.error.layer if packet.error is not None
                    else "quoted datagram" if hasattr(packet.layers[-1], "quoted") else "payload")
            add_patch(ax, Rectangle((X[head], y0), X[end] - X[head], y1 - y0, facecolor=PAYLOAD_COLOR,
                                    edgecolor="white", gid="payload"))
            _fit(ax, (X[head] + X[end]) / 2, (y0 + y1) / 2 - 6, X[end] - X[head], [what, "data"], 8,
                 ha="center", va="center", color="#212121")
            _fit(ax, (X[head] + X[end]) / 2, (y0 + y1) / 2 + 7, X[end] - X[head],
                 [f"{end - head} bytes", f"{end - head} B"], 8, ha="center", va="center", color="#212121",
                 fontweight="bold")
    last = -1e9
    for b in breaks:                                   # byte offsets under the bars
        if X[b] - last >= 16:
            ax.plot([X[b], X[b]], [bottom + 2, bottom + 6], color="#78909c", linewidth=0.8)
            ax.text(X[b], bottom + 14, str(b), fontsize=7.5, family=MONO, ha="center", va="center",
                    color="#546e7a")
            last = X[b]
    return fig
