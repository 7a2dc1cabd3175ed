"""Figures for the chat room: a sequence diagram of a conversation, and servers under load.

``trace_conversation`` plays a scripted conversation through a ``ChatRoom`` (no sockets) and records
every line that would cross the wire, in order: the material for ``sequence_diagram``, exactly what
the servers would send.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netstudy.chat.core import Broadcast, ChatRoom, Send
from netstudy.show.diagram import plot_figure
from netstudy.wire.lines import encode_line

__all__ = ["Hop", "trace_conversation", "sequence_diagram", "load_figure"]

SERVER = "server"

_SERVER_COLOUR = "#4e79a7"
_CLIENT_COLOURS = ("#e15759", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2")
_SERVER_COLOURS = {"threaded": "#e15759", "eventloop": "#4e79a7"}


@dataclass(frozen=True, slots=True)
class Hop:
    """One line on the wire: ``step`` groups a client's line with the server's answers to it."""
    step: int
    src: str
    dst: str
    text: str


def trace_conversation(script: list[tuple[str, str]], room: ChatRoom[str] | None = None) -> list[Hop]:
    """``script`` is (client, line) pairs; a client's first appearance connects it. Returns every hop."""
    room = room if room is not None else ChatRoom()
    hops: list[Hop] = []
    connected: list[str] = []
    for step, (client, line) in enumerate(script):
        if client not in connected:
            connected.append(client)
            room.connect(client)                    # the greeting is left out of the picture
        hops.append(Hop(step, client, SERVER, line))
        for action in room.receive(client, encode_line(line)):
            if isinstance(action, Send):
                hops.append(Hop(step, SERVER, action.to, action.line.decode().rstrip("\n")))
            elif isinstance(action, Broadcast):
                text = action.line.decode().rstrip("\n")
                hops += [Hop(step, SERVER, c, text) for c in room.joined_conns() if c != action.exclude]
    return hops


def sequence_diagram(hops: list[Hop], title: str = "Who sends which line to whom") -> Any:
    """Lifelines for the clients and the server; each line on the wire is an arrow labelled with its text.
    A client's line and the server's answers to it share a row band, so a broadcast fans out visibly."""
    clients = list(dict.fromkeys(h.src if h.dst == SERVER else h.dst for h in hops))
    half = (len(clients) + 1) // 2
    columns = clients[:half] + [SERVER] + clients[half:]
    x = {name: i for i, name in enumerate(columns)}
    steps = sorted({h.step for h in hops})
    rows: list[tuple[float, Any]] = []
    y = 0.0
    for step in steps:
        group = [h for h in hops if h.step == step]
        rows.append((y, group[0]))
        y += 1.0
        for h in group[1:]:
            rows.append((y, h))
            y += 0.55
        y += 0.35
    fig, ax = plot_figure(1.9 * len(columns) + 1.5, 0.42 * y + 1.2)
    for name, i in x.items():
        colour = _SERVER_COLOUR if name == SERVER else _CLIENT_COLOURS[clients.index(name) % len(_CLIENT_COLOURS)]
        ax.plot([i, i], [-0.4, y], color=colour, linewidth=1.2, alpha=0.6, zorder=1)
        ax.text(i, -0.6, name, ha="center", va="bottom", fontsize=10, fontweight="bold", color=colour)
    for row_y, h in rows:
        to_server = h.dst == SERVER
        colour = _CLIENT_COLOURS[clients.index(h.src) % len(_CLIENT_COLOURS)] if to_server else _SERVER_COLOUR
        ax.annotate("", xy=(x[h.dst], row_y), xytext=(x[h.src], row_y),
                    arrowprops=dict(arrowstyle="-|>", color=colour, linewidth=1.4 if to_server else 1.0,
                                    linestyle="-" if to_server else "--"))
        label = h.text if len(h.text) <= 34 else h.text[:33] + "…"
        ax.text((x[h.src] + x[h.dst]) / 2, row_y - 0.08, label, ha="center", va="bottom", fontsize=7.5,
                family="monospace", color="#333333")
    ax.set_xlim(-0.7, len(columns) - 0.3)
    ax.set_ylim(y, -1.2)
    ax.set_yticks([])
    ax.set_xticks([])
    ax.set_ylabel("time (each client line, then the server's answers) →")
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title(title + "  (solid: client → server, dashed: server → client)", fontsize=10)
    fig.tight_layout()
    return fig


def load_figure(frame: Any, title: str = "Chat servers under a burst: every client talks, everyone listens") -> Any:
    """Left: delivered lines per second against the number of clients; right: p50 and p99 latency.
    ``frame`` has columns server, clients, lines_per_s, p50_ms, p99_ms (one row per run), and optionally
    ``run``: points whose run is not "live" (recorded earlier) are circled and labelled."""
    fig, ax = plot_figure(10.0, 3.8)
    fig.delaxes(ax)
    left, right = fig.subplots(1, 2)
    for server, rows in frame.groupby("server"):
        rows = rows.sort_values("clients")
        colour = _SERVER_COLOURS.get(server, "#333333")
        left.plot(rows["clients"], rows["lines_per_s"], marker="o", color=colour, label=server)
        right.plot(rows["clients"], rows["p50_ms"], marker="o", color=colour, label=f"{server} p50")
        right.plot(rows["clients"], rows["p99_ms"], marker="^", linestyle="--", color=colour,
                   label=f"{server} p99")
    if "run" in frame:
        for _, row in frame[frame["run"] != "live"].iterrows():
            for ax_, column in ((left, "lines_per_s"), (right, "p99_ms")):
                ax_.scatter([row["clients"]], [row[column]], s=160, facecolors="none", edgecolors="#555555")
                ax_.annotate("recorded", (row["clients"], row[column]), textcoords="offset points",
                             xytext=(-10, 10), ha="right", fontsize=8, color="#555555")
    for ax_ in (left, right):
        ax_.set_xscale("log")
        ax_.set_yscale("log")
        ax_.set_xlabel("clients connected (N)")
        ax_.grid(True, which="both", alpha=0.3)
        ax_.legend(fontsize=8)
    left.set_ylabel("delivered lines per second")
    left.set_title("throughput (higher is better)", fontsize=10)
    right.set_ylabel("send → delivery latency (ms)")
    right.set_title("latency (lower is better)", fontsize=10)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
