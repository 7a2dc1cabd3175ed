"""Hexdumps: every byte of a packet, coloured by the field it belongs to and underlined by its layer.

``byte_map(packet)`` says, for each byte, which fields (of which layer) own which of its bits; the
matplotlib figure (``hexdump``), the HTML one (``html.hexdump_html``) and the plain text one
(``hexdump_text``, the layout of ``tcpdump -XX``) all read it.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

from netstudy.show.colors import PADDING_COLOR, PAYLOAD_COLOR, field_color, layer_color
from netstudy.show.layout import MONO, SANS, as_packet, display_name, text_width
from netstudy.wire.decode import Packet

__all__ = ["Slice", "byte_map", "hexdump", "hexdump_text"]


@dataclass(frozen=True, slots=True)
class Slice:
    """Bits ``start`` .. ``start + bits`` (0 = most significant) of one byte, owned by one field."""

    layer: str
    field: str           # the field's name in the header (``ack_flag``, ``option mss``)
    label: str           # as diagrams show it (``ACK``, ``mss``)
    color: str
    layer_color: str
    start: int
    bits: int


def byte_map(packet: Packet) -> list[tuple[Slice, ...]]:
    """For each byte of the packet, the fields that own its bits (several for a byte of flags), in
    bit order. Bytes no header claims are ``payload`` (application data), ``malformed`` (a layer
    that did not decode) or ``trailer`` (link-layer padding after the last layer's end)."""
    n = len(packet.data)
    cells: list[list[Slice]] = [[] for _ in range(n)]
    for header in packet.layers:
        base = header.offset * 8
        lcolor = layer_color(header)
        for view in header.fields():
            first, end = base + view.bit_offset, base + view.bit_offset + view.bits
            color = field_color(header, view.name)
            bit = first
            while bit < end and bit // 8 < n:
                byte, start = divmod(bit, 8)
                take = min(8 - start, end - bit)
                cells[byte].append(Slice(header.NAME, view.name, display_name(view), color, lcolor, start, take))
                bit += take
    rest_start = packet.layers[-1].offset + packet.layers[-1].header_length if packet.layers else 0
    rest_end = rest_start + len(packet.remainder)
    if packet.layers and packet.layers[-1].NAME == "DNS" and packet.error is None:
        _dns_sections(packet.data, packet.layers[-1].offset, rest_start, rest_end, cells)
    for i in range(n):
        if not cells[i]:
            if rest_start <= i < rest_end:
                kind = "malformed" if packet.error is not None else "payload"
                cells[i].append(Slice(kind, kind, kind, PAYLOAD_COLOR, layer_color("payload"), 0, 8))
            else:
                cells[i].append(Slice("trailer", "trailer", "trailer", PADDING_COLOR, layer_color("payload"), 0, 8))
    return [tuple(c) for c in cells]


def _dns_sections(data: bytes, base: int, start: int, end: int, cells: list[list[Slice]]) -> None:
    """Claim a DNS message's bytes after its 12-byte header for the DNS layer (RFC 1035 §4.1): each name
    as its section's name field (``qname``, ``answer name``), and the bytes after it up to the next name
    as that section's fixed fields and data (``qtype, qclass``; ``answer type … rdata``)."""
    from netstudy.wire.dns import compression_map  # only when a DNS message is shown
    try:
        spans = compression_map(data[base:end])
    except Exception:  # a message the DNS codec cannot read stays payload, as before
        return
    lcolor = layer_color("DNS")
    marks: list[tuple[int, int, str]] = []
    for span in spans:
        name_end = max(p.offset + p.length for p in span.pieces) if span.pieces else span.offset + 1
        label = "qname" if span.role == "qname" else f"{span.section} {'name' if span.role == 'owner' else span.role}"
        marks.append((span.offset, name_end, label))
        rest = "qtype, qclass" if span.section == "question" else f"{span.section} type, class, TTL, rdata"
        marks.append((name_end, -1, rest))
    marks.sort()
    for k, (first, last, label) in enumerate(marks):
        if last < 0:                                   # up to the next mark, or the message's end
            last = marks[k + 1][0] if k + 1 < len(marks) else end - base
        for i in range(base + first, min(base + last, end)):
            if start <= i and not cells[i]:
                cells[i].append(Slice("DNS", label, label, field_color("DNS", label), lcolor, 0, 8))


def hexdump_text(obj: Any, linktype: int = 1, layers: bool = True) -> str:
    """The packet as text, 16 bytes a line, in the layout of ``tcpdump -XX`` (offset, 8 groups of two
    bytes, ASCII); ``layers`` adds, at the end of a line, where each layer starting on it begins."""
    packet = as_packet(obj, linktype)
    data = packet.data
    starts: dict[int, list[str]] = {}
    for h in packet.layers:
        starts.setdefault(h.offset // 16, []).append(f"{h.NAME} @{h.offset}")
    if packet.remainder:
        at = packet.layers[-1].offset + packet.layers[-1].header_length if packet.layers else 0
        starts.setdefault(at // 16, []).append(f"{'malformed' if packet.error else 'payload'} @{at}")
    lines = []
    for row in range(0, len(data), 16):
        chunk = data[row:row + 16]
        groups = " ".join(chunk[i:i + 2].hex() for i in range(0, len(chunk), 2))
        text = "".join(chr(b) if 32 < b < 127 else "." for b in chunk)   # as tcpdump: isgraph()
        line = f"0x{row:04x}:  {groups:<39}  {text}"
        if layers and row // 16 in starts:
            line = f"{line:<{9 + 39 + 2 + 16}}  | " + ", ".join(starts[row // 16])
        lines.append(line)
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------
# the figure

FONT = 10.0
ROW = 17.0
CELL = 21.0            # a hex byte
CHAR = 0.602 * FONT    # an ASCII character: DejaVu Sans Mono's advance, so a row is one string
X_OFF, X_HEX = 10.0, 52.0
X_ASC = X_HEX + 16 * CELL + 8 + 18


def _x_hex(i: int) -> float:
    return X_HEX + i * CELL + (8 if i >= 8 else 0)


Legend = list[tuple[str, str, list[tuple[str, tuple[str, ...]]]]]


def _legend_entries(packet: Packet, cells: list[tuple[Slice, ...]]) -> Legend:
    """(layer, layer colour, [(label, colours)]) in the order the bytes meet them, each field once. The
    fields that share one byte (version and IHL, the flag bits) are one entry, its swatch split as the
    byte is, so a legend of a TCP/IP frame has a score of entries, not thirty."""
    out: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {}
    shown: set[tuple[str, str]] = set()
    for slices in cells:
        layer_slices = [s for s in slices if (s.layer, s.label) not in shown]
        if not layer_slices:
            continue
        entry = out.setdefault(slices[0].layer, (slices[0].layer_color, {}))
        if len(slices) > 1:                      # one byte, several fields: one entry for all of them
            entry[1].setdefault(" ".join(s.label for s in slices), tuple(s.color for s in slices))
        else:
            entry[1].setdefault(slices[0].label, (slices[0].color,))
        shown.update((s.layer, s.label) for s in slices)
    return [(layer, lc, list(fields.items())) for layer, (lc, fields) in out.items()]


def _legend_rows(entries: Legend, width: float) -> list[list[tuple]]:
    """Legend items placed in rows of ``width`` points: ('layer', name, colour, x, layer colour) or
    ('field', name, colours, x, layer colour)."""
    rows: list[list[tuple]] = []
    for layer, lc, fields in entries:
        row: list[tuple] = [("layer", layer, lc, 0.0, lc)]
        x = text_width(layer, 8.5) * 1.15 + 22
        for name, colors in fields:
            if layer == name:                      # payload, trailer: the layer entry says it all
                continue
            w = 12 + text_width(name, 8) + 10
            if x + w > width:
                rows.append(row)
                row, x = [], 30.0
            row.append(("field", name, colors, x, lc))
            x += w
        rows.append(row)
    return rows


def hexdump(obj: Any, linktype: int = 1, max_bytes: int = 512, legend: bool = True) -> Any:
    """A hexdump figure: offsets, hex and ASCII; each byte's background is its field's colour (the same
    as in the bit diagrams; a byte shared by several fields is split by bits), the band under it its
    layer's colour. Takes a ``Packet``, a ``Header``, a ``Stack`` or bytes (read as ``linktype``)."""
    from matplotlib.patches import Rectangle

    from netstudy.show.diagram import add_patch, figure_in_points
    packet = as_packet(obj, linktype)
    data = packet.data
    cells = byte_map(packet)
    shown = min(len(data), max_bytes)
    nrows = (shown + 15) // 16 + (1 if shown < len(data) else 0)
    width = X_ASC + 16 * CHAR + 14
    title_lines = textwrap.wrap(packet.summary(), max(20, int((width - 2 * X_OFF) / (0.64 * 9))),
                                subsequent_indent="  ") or [""]
    title_h = 13.0 * len(title_lines) + 13
    legend_rows = _legend_rows(_legend_entries(packet, cells[:shown]), width - 20) if legend else []
    height = title_h + nrows * ROW + 10 + len(legend_rows) * 15 + 6
    fig, ax = figure_in_points(width, height)
    for k, line in enumerate(title_lines):            # the whole summary, wrapped: never cut off
        ax.text(X_OFF, 13 + 13 * k, line, fontsize=9, family=MONO, fontweight="bold", va="center", ha="left",
                color="#263238", parse_math=False)         # a payload's "$...$" is text, not mathtext
    for i in range(shown):
        row, col = divmod(i, 16)
        y = title_h + row * ROW
        if col == 0:
            ax.text(X_OFF, y + ROW / 2 - 1, f"{i:04x}", fontsize=FONT - 1, family=MONO, va="center",
                    color="#78909c")
        for x0, w in ((_x_hex(col) + 1, CELL - 2), (X_ASC + col * CHAR, CHAR)):
            for s in cells[i]:
                rect = Rectangle((x0 + w * s.start / 8, y + 1), w * s.bits / 8, ROW - 5, facecolor=s.color,
                                 edgecolor="none", gid=f"{s.layer}.{s.field}@{i}")
                add_patch(ax, rect)
            add_patch(ax, Rectangle((x0, y + ROW - 4), w, 2.6, facecolor=cells[i][0].layer_color,
                                    edgecolor="none", gid=f"layer:{cells[i][0].layer}@{i}"))
        ax.text(_x_hex(col) + CELL / 2, y + ROW / 2 - 1.5, f"{data[i]:02x}", fontsize=FONT, family=MONO,
                ha="center", va="center", color="#111111")
    for row in range(0, shown, 16):
        chunk = data[row:min(row + 16, shown)]
        ax.text(X_ASC, title_h + (row // 16) * ROW + ROW / 2 - 1.5,
                "".join(chr(b) if 32 <= b < 127 else "\u00b7" for b in chunk), fontsize=FONT, family=MONO,
                ha="left", va="center", color="#111111", parse_math=False)
    if shown < len(data):
        ax.text(X_HEX, title_h + (nrows - 0.5) * ROW, f"\u2026 {len(data) - shown} more bytes", fontsize=8.5,
                family=SANS, va="center", color="#78909c")
    y = title_h + nrows * ROW + 10
    for row_items in legend_rows:
        for kind, name, color, x, lc in row_items:
            if kind == "layer":
                add_patch(ax, Rectangle((X_OFF + x, y + 1), 14, 11, facecolor=color, edgecolor="none"))
                ax.text(X_OFF + x + 18, y + 6.5, name, fontsize=8.5, family=SANS, fontweight="bold", va="center",
                        color=color)
            else:                                   # drawn as a byte is: field colour(s), layer band under
                for k, c in enumerate(color):
                    add_patch(ax, Rectangle((X_OFF + x + 10 * k / len(color), y + 1), 10 / len(color), 8,
                                            facecolor=c, edgecolor="none"))
                add_patch(ax, Rectangle((X_OFF + x, y + 9.5), 10, 2.6, facecolor=lc, edgecolor="none"))
                ax.text(X_OFF + x + 13, y + 6.5, name, fontsize=8, family=SANS, va="center", color="#37474f")
        y += 15
    return fig
