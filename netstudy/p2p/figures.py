"""The p2p chat's figures, on ``netstudy.show``'s primitives: client/server against peer-to-peer, the
peer graph, one message's gossip tree, and membership over time (a kill, a partition)."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from netstudy.show.diagram import plot_figure

__all__ = ["architectures", "peer_graph", "gossip_tree", "membership_timeline"]


def _circle(names: Sequence[str], r: float = 1.0, cx: float = 0.0) -> dict[str, tuple[float, float]]:
    n = len(names)
    return {name: (cx + r * math.sin(2 * math.pi * i / n), r * math.cos(2 * math.pi * i / n))
            for i, name in enumerate(names)}


def _node(ax: Any, xy: tuple[float, float], label: str, colour: str = "#4e79a7") -> None:
    ax.scatter([xy[0]], [xy[1]], s=700, color=colour, zorder=3, edgecolor="black")
    ax.text(xy[0], xy[1], label, ha="center", va="center", color="white", fontsize=9, zorder=4,
            parse_math=False)                       # a peer's name is text, "$" and all


def architectures(n: int = 5) -> Any:
    """Left: a server with n clients (every message goes through it); right: n peers, each linked to
    its ring neighbours, a message relayed from peer to peer."""
    fig, ax = plot_figure(9.5, 4.2)
    names = [f"p{i}" for i in range(1, n + 1)]
    left, right = _circle(names, cx=-1.6), _circle(names, cx=1.6)
    for xy in left.values():
        ax.plot([-1.6, xy[0]], [0, xy[1]], color="#888888")
    _node(ax, (-1.6, 0.0), "server", "#e15759")
    for name, xy in left.items():
        _node(ax, xy, name)
    for i, name in enumerate(names):
        a, b = right[name], right[names[(i + 1) % n]]
        ax.plot([a[0], b[0]], [a[1], b[1]], color="#888888")
    for name, xy in right.items():
        _node(ax, xy, name, "#59a14f")
    ax.set_xlim(-3.0, 3.0)
    ax.set_ylim(-1.45, 1.45)
    ax.set_aspect("equal")
    ax.set_xlabel("client/server: n links, one relay, one point of failure        "
                  "peer-to-peer: links between peers, every peer relays")
    ax.set_ylabel("(no axis: a topology)")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("Where messages go: through a server, or from peer to peer")
    return fig


def peer_graph(snapshots: Sequence[Mapping[str, Any]], ids: Mapping[str, str], columns: int = 4) -> Any:
    """The link graph of each snapshot (``{"t_s", "peers": {name: {"neighbours": [id...]}}}``), side by side."""
    by_id = {v: k for k, v in ids.items()}
    names = sorted(ids)
    pos = _circle(names)
    picked = list(snapshots)[:columns]
    fig, _ = plot_figure(3.0 * len(picked), 3.4)
    fig.clear()
    for i, snap in enumerate(picked):
        ax = fig.add_subplot(1, len(picked), i + 1)
        edges = {tuple(sorted((p, by_id.get(n, "?")))) for p, v in snap["peers"].items() for n in v["neighbours"]}
        for a, b in sorted(edges):
            if a in pos and b in pos:
                ax.plot([pos[a][0], pos[b][0]], [pos[a][1], pos[b][1]], color="#555555")
        for name in names:
            _node(ax, pos[name], name, "#59a14f" if name in snap["peers"] else "#bbbbbb")
        ax.set_title(f"t = {snap['t_s']:.1f} s: {len(edges)} links", fontsize=9)
        ax.set_xlim(-1.4, 1.4)
        ax.set_ylim(-1.4, 1.4)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("peer (green: running)", fontsize=8)
    fig.suptitle("The peer graph as it forms: each peer links to the next on the ring of ids")
    return fig


def gossip_tree(arrivals: Sequence[Mapping[str, Any]], ids: Mapping[str, str]) -> Any:
    """One message's first arrival at each peer: x = time after it was said (ms), y = hops, an arrow
    from the neighbour it came from."""
    by_id = {v: k for k, v in ids.items()}
    t0 = min(a["at_ns"] for a in arrivals)
    where = {a["peer"]: ((a["at_ns"] - t0) / 1e6, a["hops"]) for a in arrivals}
    fig, ax = plot_figure(7.5, 3.8)
    for a in arrivals:
        src = by_id.get(a["via"]) if a["via"] else None
        if src in where:
            (x0, y0), (x1, y1) = where[src], where[a["peer"]]
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops={"arrowstyle": "->", "color": "#555555"})
    for peer, (x, y) in where.items():
        ax.scatter([x], [y], s=500, color="#59a14f" if y else "#e15759", edgecolor="black", zorder=3)
        ax.text(x, y, peer, ha="center", va="center", color="white", fontsize=9, zorder=4, parse_math=False)
    span = max(x for x, _ in where.values()) or 1.0
    ax.set_xlim(-0.1 * span, 1.15 * span)
    ax.set_ylim(-0.5, max(y for _, y in where.values()) + 0.5)
    ax.set_xlabel("time after it was said (ms)")
    ax.set_ylabel("hops from the origin")
    ax.set_title("One message's gossip: each peer forwards it once to its other neighbours")
    fig.tight_layout()
    return fig


def membership_timeline(snapshots: Sequence[Mapping[str, Any]], marks: Mapping[str, float], title: str) -> Any:
    """How many peers each peer lists alive, over time; ``marks``: vertical lines (label -> seconds)."""
    fig, ax = plot_figure(7.5, 3.6)
    names = sorted({p for s in snapshots for p in s["peers"]})
    for i, name in enumerate(names):         # each line lifted a little, so equal counts do not hide each other
        pts = [(s["t_s"], len(s["peers"][name]["alive"]) + 0.04 * i) for s in snapshots if name in s["peers"]]
        ax.step([t for t, _ in pts], [n for _, n in pts], where="post", label=name)
    top = max(len(s["peers"][n]["alive"]) for s in snapshots for n in s["peers"])
    ax.set_yticks(range(top + 1))
    for label, t in marks.items():
        ax.axvline(t, color="#e15759", linestyle="--")
        ax.text(t, ax.get_ylim()[1], " " + label, va="top", fontsize=8, color="#e15759")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("other peers listed alive")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
