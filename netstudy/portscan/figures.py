"""A port scan's figures, on ``netstudy.show``'s primitives: the port-state map (ports × scan types,
coloured by state, each cell naming its reason), the scan's timeline (probe sent → answer, per port)
and a TCP exchange drawn as a ladder between two hosts, with flags and sequence numbers."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from netstudy.portscan.core import ScanResult
from netstudy.show.diagram import plot_figure

__all__ = ["STATE_COLORS", "port_map", "timeline", "handshake"]

STATE_COLORS = {"open": "#59a14f", "closed": "#4e79a7", "filtered": "#e15759", "open|filtered": "#f28e2b",
                "not scanned": "#ffffff"}


def port_map(scans: Mapping[str, ScanResult], title: str = "Port states by scan type") -> Any:
    """One row per (port, protocol) scanned by any of ``scans`` (``{"-sT": result, ...}``), one column per
    scan type; each cell coloured by state and labelled with nmap's reason."""
    from matplotlib.patches import Patch, Rectangle
    rows = sorted({(r.protocol, r.port) for result in scans.values() for r in result.records},
                  key=lambda k: (k[0], k[1]))
    columns = list(scans)
    fig, ax = plot_figure(2.2 * len(columns) + 2.4, 0.34 * len(rows) + 1.4)
    for x, name in enumerate(columns):
        by_key = {(r.protocol, r.port): r for r in scans[name].records}
        for y, key in enumerate(rows):
            record = by_key.get(key)
            state = record.state.value if record is not None else "not scanned"
            ax.add_patch(Rectangle((x, y), 1, 1, facecolor=STATE_COLORS.get(state, "#d9d9d9"), edgecolor="white"))
            if record is not None:
                ax.text(x + 0.5, y + 0.5, record.reason, ha="center", va="center", fontsize=7,
                        color="white" if state in ("closed", "filtered") else "black")
    ax.set_xlim(0, len(columns))
    ax.set_ylim(len(rows), 0)
    ax.set_xticks([i + 0.5 for i in range(len(columns))], columns)
    ax.set_yticks([i + 0.5 for i in range(len(rows))], [f"{port}/{proto}" for proto, port in rows], fontsize=8)
    ax.set_xlabel("scan type")
    ax.set_ylabel("port/protocol")
    ax.set_title(title)
    ax.legend(handles=[Patch(color=c, label=s) for s, c in STATE_COLORS.items() if s != "not scanned"],
              loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, title="state")
    fig.tight_layout()
    return fig


def timeline(result: ScanResult, title: str | None = None, limit: int = 60) -> Any:
    """Each port (at most ``limit``, in scan order) as a line from its first probe to its answer (ms
    from the scan's first probe), coloured by state; a port that never answered runs to the scan's end."""
    from matplotlib.patches import Patch
    frame = result.timeline_frame().dropna(subset=["sent_ms"]).sort_values("sent_ms").head(limit)
    end = result.elapsed_ns / 1e6
    fig, ax = plot_figure(8.0, 0.16 * len(frame) + 1.8)
    for y, row in enumerate(frame.itertuples()):
        stop = row.answered_ms if row.answered_ms == row.answered_ms else end   # NaN: never answered
        color = STATE_COLORS.get(row.state, "#999999")
        ax.plot([row.sent_ms, stop], [y, y], color=color, linewidth=2)
        ax.plot([row.sent_ms], [y], marker="|", color="#333333", markersize=6)
    ax.set_yticks(range(len(frame)), [f"{p}/{q}" for p, q in zip(frame["port"], frame["protocol"], strict=True)],
                  fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("time since the first probe (ms)")
    ax.set_ylabel("port")
    ax.set_title(title or f"Scan timeline: probe sent (|) to answer, {len(frame)} ports")
    ax.legend(handles=[Patch(color=c, label=s) for s, c in STATE_COLORS.items() if s != "not scanned"],
              loc="lower right", fontsize=7)
    fig.tight_layout()
    return fig


def handshake(segments: Sequence[tuple[str, str, str]], left: str, right: str, title: str = "TCP exchange") -> Any:
    """A ladder diagram: ``segments`` are ``(from, label, time label)`` in order, ``from`` being ``left``
    or ``right`` (the two hosts, e.g. ``"client 127.0.0.1:45000"``); each is an arrow across, labelled."""
    fig, ax = plot_figure(7.6, 0.8 * len(segments) + 1.4)
    height = len(segments) + 1
    for x, name in ((0, left), (1, right)):
        ax.plot([x, x], [0, height], color="#555555", linewidth=1.5)
        ax.text(x, height + 0.15, name, ha="center", va="bottom", fontsize=9, fontweight="bold")
    for i, (sender, label, when) in enumerate(segments):
        y0 = height - 0.5 - i
        start, stop = (0, 1) if sender == left else (1, 0)
        ax.annotate("", xy=(stop, y0 - 0.6), xytext=(start, y0),
                    arrowprops={"arrowstyle": "->", "color": "#e15759" if "R" in label.split()[0] else "#4e79a7"})
        ax.text(0.5, y0 - 0.22, label, ha="center", va="bottom", fontsize=8, family="monospace",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
        ax.text(-0.04 if sender == left else 1.04, y0, when, ha="right" if sender == left else "left",
                va="center", fontsize=7, color="#555555")
    ax.set_xlim(-0.45, 1.45)
    ax.set_ylim(-0.2, height + 0.7)
    ax.set_xticks([0, 1], ["", ""])
    ax.set_yticks([])
    ax.set_xlabel("the two ends of the connection")
    ax.set_ylabel("time (down)")
    ax.set_title(title)
    fig.tight_layout()
    return fig
