"""A sweep's figures, on ``netstudy.show``'s primitives: the /24 as a 16×16 grid of addresses coloured
by state and RTT, and the timeline of probes and answers."""
from __future__ import annotations

import ipaddress
from typing import Any

from netstudy.show.diagram import plot_figure
from netstudy.sweep.core import State, SweepResult

__all__ = ["grid", "timeline", "STATE_COLORS"]

STATE_COLORS = {"silent": "#d9d9d9", "unreachable": "#ff9896", "not probed": "#ffffff"}
_MARKS = {                 # what: (marker, colour, size, label)
    "probe": ("|", "#7f7f7f", 20, "probe sent"),
    "answer": ("o", "#59a14f", 14, "answer"),
    "retry": ("x", "#f28e2b", 18, "wait over: retry"),
    "give up": ("x", "#e15759", 22, "given up"),
    "unreachable": ("s", "#d62728", 14, "unreachable"),
    "late": ("D", "#b07aa1", 14, "late answer"),
}


def grid(result: SweepResult, title: str | None = None, mark: set[str] | None = None) -> Any:
    """The /24 that holds the sweep's first address, as 16 rows of 16 (row = the last byte's high hex
    digit, column = its low one): alive addresses coloured by RTT, silent ones grey, unreachable ones
    pink, addresses not probed white. ``mark``: addresses to outline in black (e.g. found only by ARP).
    Each cell is labelled with the address's last byte."""
    import matplotlib as mpl
    from matplotlib.patches import Patch, Rectangle
    first = ipaddress.IPv4Address(result.targets[0].address)
    base = int(first) & ~0xFF
    cells = {int(ipaddress.IPv4Address(t.address)) - base: t for t in result.targets
             if int(ipaddress.IPv4Address(t.address)) & ~0xFF == base}
    rtts = [t.rtt_ns / 1e3 for t in cells.values() if t.alive and t.rtt_ns is not None]
    low, high = (min(rtts), max(rtts)) if rtts else (0.0, 1.0)
    norm = mpl.colors.Normalize(vmin=low, vmax=high if high > low else low + 1)
    cmap = mpl.colormaps["viridis"]
    fig, ax = plot_figure(7.4, 6.6)
    mark = mark or set()
    for octet in range(256):
        row, col = divmod(octet, 16)
        target = cells.get(octet)
        color: Any
        if target is None:
            color = STATE_COLORS["not probed"]
        elif target.alive:
            color = cmap(norm(target.rtt_ns / 1e3)) if target.rtt_ns is not None else "#59a14f"
        else:
            color = STATE_COLORS.get(target.state.value, "#ffffff")
        outlined = target is not None and target.address in mark
        ax.add_patch(Rectangle((col, row), 1, 1, facecolor=color, edgecolor="black" if outlined else "#bbbbbb",
                               linewidth=2.4 if outlined else 0.5))
        dark = target is not None and target.alive and target.rtt_ns is not None and norm(target.rtt_ns / 1e3) < 0.6
        ax.text(col + 0.5, row + 0.5, str(octet), ha="center", va="center", fontsize=6,
                color="white" if dark else "#333333")
    ax.set_xlim(0, 16)
    ax.set_ylim(16, 0)
    ax.set_aspect("equal")
    ax.set_xticks([i + 0.5 for i in range(16)], [f"{i:x}" for i in range(16)], fontsize=7)
    ax.set_yticks([i + 0.5 for i in range(16)], [f"{i:x}0" for i in range(16)], fontsize=7)
    ax.set_xlabel("last byte of the address: low hex digit")
    ax.set_ylabel("last byte: high hex digit")
    bar = fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, fraction=0.04, pad=0.02)
    bar.set_label("RTT of alive hosts (µs)")
    handles = [Patch(facecolor=STATE_COLORS["silent"], edgecolor="#bbbbbb", label="silent"),
               Patch(facecolor=STATE_COLORS["unreachable"], edgecolor="#bbbbbb", label="unreachable"),
               Patch(facecolor="white", edgecolor="#bbbbbb", label="not probed")]
    if mark:
        handles.append(Patch(facecolor="white", edgecolor="black", linewidth=2.4, label="marked"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncols=len(handles), fontsize=8,
              frameon=False)
    network = ipaddress.IPv4Network((base, 24))
    ax.set_title(title or f"{result.method} sweep of {network}: {len(result.alive)} alive of {result.scanned} "
                          f"probed ({result.mechanism})", fontsize=10)
    fig.tight_layout()
    return fig


def timeline(result: SweepResult, title: str | None = None, limit: int | None = None) -> Any:
    """Every probe, answer, retry and give-up against time (ms from the first probe), one row per
    address (its last byte). ``limit``: only the first ``limit`` addresses of the sweep."""
    shown = [t.address for t in result.targets][:limit]
    rows = {address: int(ipaddress.IPv4Address(address)) & 0xFF for address in shown}
    start = result.timeline[0].t_ns if result.timeline else 0
    fig, ax = plot_figure(8.4, 4.2)
    for what, (marker, color, size, label) in _MARKS.items():
        points = [((m.t_ns - start) / 1e6, rows[m.address]) for m in result.timeline
                  if m.what == what and m.address in rows]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.scatter(xs, ys, marker=marker, color=color, s=size, label=f"{label} ({len(points)})",
                       zorder=3 if what != "probe" else 2, linewidths=1.0)
    ax.set_xlabel("time since the first probe (ms)")
    ax.set_ylabel("last byte of the address")
    ax.set_ylim(-2, 257)
    alive = sum(1 for t in result.targets if t.state is State.ALIVE)
    ax.set_title(title or f"{result.method} sweep: {result.probes} probes to {result.scanned} addresses, "
                          f"{alive} answered, in {result.elapsed_s:.2f} s", fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=3, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
