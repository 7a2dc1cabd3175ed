"""The DNS program's figures, on ``netstudy.show``'s primitives: where a message's names lie and where
its compression pointers point; lookup timing; the three client designs compared."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from netstudy.show.diagram import add_patch, figure_in_points, plot_figure
from netstudy.show.layout import MONO, SANS

__all__ = ["compression_figure", "lookup_histogram", "driver_comparison"]

CELL_W, CELL_H, LEFT, TOP = 30.0, 24.0, 46.0, 34.0
COLORS = {"header": "#d9d9d9", "length": "#4e79a7", "label": "#c6dbef", "pointer": "#e15759",
          "root": "#59a14f", "other": "#ffffff"}
LEGEND = [("header", "header (12 bytes)"), ("length", "label length"), ("label", "label text"),
          ("pointer", "compression pointer (2 bytes)"), ("root", "root (0)"), ("other", "type, class, TTL, data")]


def _byte_kinds(data: bytes, spans: list) -> list[str]:
    kinds = ["header"] * min(12, len(data)) + ["other"] * max(0, len(data) - 12)
    for span in spans:
        for piece in span.pieces:
            if piece.kind == "label":
                kinds[piece.offset] = "length"
                for i in range(piece.offset + 1, piece.offset + piece.length):
                    kinds[i] = "label"
            elif piece.kind == "pointer":
                kinds[piece.offset] = kinds[piece.offset + 1] = "pointer"
            else:
                kinds[piece.offset] = "root"
    return kinds


def compression_figure(data: bytes, title: str | None = None) -> Any:
    """Every byte of a DNS message, 16 a row, coloured by what it is (label length, label text,
    compression pointer, root), with an arrow from each pointer to the name it reuses (RFC 1035 §4.1.4)."""
    from matplotlib.patches import FancyArrowPatch, Rectangle

    from netstudy.wire.dns import Message, compression_map
    data = bytes(data)
    spans = compression_map(data)
    kinds = _byte_kinds(data, spans)
    rows = (len(data) + 15) // 16
    width = LEFT + 16 * CELL_W + 20
    height = TOP + rows * CELL_H + 70
    fig, ax = figure_in_points(width, height)

    def centre(i: int) -> tuple[float, float]:
        row, col = divmod(i, 16)
        return LEFT + col * CELL_W + CELL_W / 2, TOP + row * CELL_H + CELL_H / 2

    for col in range(16):
        ax.text(LEFT + col * CELL_W + CELL_W / 2, TOP - 8, f"{col:x}", ha="center", va="center", fontsize=7,
                family=MONO, color="#777777")
    for i, byte in enumerate(data):
        x, y = centre(i)
        kind = kinds[i]
        add_patch(ax, Rectangle((x - CELL_W / 2, y - CELL_H / 2), CELL_W, CELL_H, facecolor=COLORS[kind],
                                edgecolor="#9e9e9e", linewidth=0.5))
        light = kind in ("length", "pointer", "root")
        ax.text(x, y - 4, f"{byte:02x}", ha="center", va="center", fontsize=7.5, family=MONO,
                color="white" if light else "#212121")
        if kind == "label":
            ax.text(x, y + 6, chr(byte) if 0x21 <= byte <= 0x7E else "·", ha="center", va="center", fontsize=6.5,
                    family=MONO, color="#37474f")
    for row in range(rows):
        ax.text(LEFT - 6, TOP + row * CELL_H + CELL_H / 2, f"0x{row * 16:04x}", ha="right", va="center",
                fontsize=7, family=MONO, color="#555555")
    pointers = [p for s in spans for p in s.pieces if p.kind == "pointer"]
    for p in pointers:
        assert p.target is not None                 # a pointer always has one
        (x0, y0), (x1, y1) = centre(p.offset), centre(p.target)
        ax.add_artist(FancyArrowPatch((x0, y0 - 6), (x1, y1 - 6), connectionstyle="arc3,rad=-0.25",
                                      arrowstyle="-|>", mutation_scale=9, color="#c62828", linewidth=1.1,
                                      alpha=0.85, zorder=5))
    saved = len(Message.parse(data, allow_trailing=True).to_wire(compress=False)) - len(data)
    ax.text(8, 12, title or f"Name compression: {len(pointers)} pointers make this message {saved} bytes "
                           f"shorter ({len(data)} instead of {len(data) + saved})",
            fontsize=9, family=SANS, fontweight="bold", va="center")
    x = 8.0
    y = TOP + rows * CELL_H + 22
    for kind, text in LEGEND:
        add_patch(ax, Rectangle((x, y - 5), 10, 10, facecolor=COLORS[kind], edgecolor="#9e9e9e", linewidth=0.5))
        ax.text(x + 14, y, text, fontsize=7, family=SANS, va="center")
        x += 14 + len(text) * 4.4 + 12
        if x > width - 150:
            x, y = 8.0, y + 16
    ax.text(8, height - 9, "arrows: from a pointer to the name it reuses;  byte offset = row (left) + column "
                           "(top), in hex", fontsize=7, family=SANS, color="#555555")
    return fig


def lookup_histogram(rtts_ms: Iterable[float], title: str = "DNS lookup round-trip times", bins: int = 30) -> Any:
    """How lookup RTTs spread, with the median and the 99th percentile marked."""
    values = sorted(rtts_ms)
    fig, ax = plot_figure(8.0, 3.2)
    ax.hist(values, bins=bins, color="#aec7e8", edgecolor="#4e79a7", label=f"{len(values)} lookups")
    if values:
        median = values[len(values) // 2]
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        ax.axvline(median, color="#e15759", label=f"median {median:.3f} ms")
        ax.axvline(p99, color="#f28e2b", linestyle=":", label=f"99th percentile {p99:.3f} ms")
    ax.set_xlabel("round-trip time (ms)")
    ax.set_ylabel("lookups")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def driver_comparison(seconds: Mapping[str, float], queries: int, delay_s: float) -> Any:
    """Total time of the same queries with each client design, against the server's per-reply delay."""
    fig, ax = plot_figure(7.0, 3.0)
    names = list(seconds)
    bars = ax.barh(names, [seconds[n] for n in names], color=["#e15759", "#4e79a7", "#59a14f"][:len(names)])
    for bar, name in zip(bars, names, strict=True):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f"  {seconds[name]:.2f} s", va="center",
                fontsize=8)
    ax.axvline(delay_s, color="#555555", linestyle=":", label=f"one reply's delay ({delay_s * 1000:g} ms)")
    ax.set_xscale("log")
    ax.set_xlim(min(delay_s, *seconds.values()) / 2, max(seconds.values()) * 8)   # room for labels and legend
    ax.set_xlabel("total time for all queries (s, log scale)")
    ax.set_title(f"{queries} queries to a server that holds each reply {delay_s * 1000:g} ms")
    ax.legend(fontsize=8, loc="lower right")
    ax.invert_yaxis()
    fig.tight_layout()
    return fig
