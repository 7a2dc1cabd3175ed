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

__all__ = ["Hop", "trace_conversation", "sequence_diagram", "load_figure", "time_sequence_plot"]

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
        ax.text(i, -0.6, name, ha="center", va="bottom", fontsize=10, fontweight="bold", color=colour,
                parse_math=False)                   # a user's "$...$" is text, not mathtext
    for row_y, h in rows:
        to_server = h.dst == SERVER
        colour = _CLIENT_COLOURS[clients.index(h.src) % len(_CLIENT_COLOURS)] if to_server else _SERVER_COLOUR
        ax.annotate("", xy=(x[h.dst], row_y), xytext=(x[h.src], row_y),
                    arrowprops=dict(arrowstyle="-|>", color=colour, linewidth=1.4 if to_server else 1.0,
                                    linestyle="-" if to_server else "--"))
        label = h.text if len(h.text) <= 34 else h.text[:33] + "…"
        # on a white ground above the lifelines, so a lifeline never runs through another arrow's label
        ax.text((x[h.src] + x[h.dst]) / 2, row_y - 0.1, label, ha="center", va="bottom", fontsize=7.5,
                family="monospace", color="#333333", zorder=3, parse_math=False,
                bbox=dict(boxstyle="square,pad=0.1", facecolor="white", edgecolor="none"))
    ax.set_xlim(-1.0, len(columns) - 0.3)
    ax.set_ylim(y, -1.2)
    ax.set_yticks([])
    ax.set_xticks([])
    # time runs down the page: an arrow that points down, not a rotated "time →" pointing up
    ax.annotate("", xy=(-0.85, y - 0.3), xytext=(-0.85, 0.0),
                arrowprops=dict(arrowstyle="-|>", color="#555555", linewidth=1.0))
    ax.text(-0.8, 0.0, "time", rotation=0, ha="left", va="bottom", fontsize=9, color="#555555")
    ax.set_ylabel("time (each client line, then the server's answers), top to bottom")
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
    if {"delivered", "expected"} <= set(frame.columns):
        cut = frame[frame["delivered"] < frame["expected"]]
        for _, row in cut.iterrows():           # a run stopped at its time limit: its latencies are partial
            share = row["delivered"] / row["expected"]
            for ax_, column in ((left, "lines_per_s"), (right, "p50_ms"), (right, "p99_ms")):
                ax_.scatter([row["clients"]], [row[column]], s=90, marker="x", color="#d62728", zorder=4,
                            label="cut off at the time limit" if (ax_ is left or column == "p50_ms")
                            and row.name == cut.index[0] else None)
            right.annotate(f"cut off: {share:.0%} delivered", (row["clients"], row["p99_ms"]),
                           textcoords="offset points", xytext=(6, -12), fontsize=7.5, color="#d62728")
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


def time_sequence_plot(frame: Any, title: str = "One chat connection: the client's bytes and the server's ACKs") -> Any:
    """A time–sequence plot (Stevens, TCP/IP Illustrated §15; Wireshark's "Stevens" graph) of one
    connection from ``netstudy.chat.session.segments``: each client data segment is a vertical bar from
    its sequence number to seq + length (relative to the ISN, in bytes), labelled with its payload; the
    server's acknowledgements of the client's bytes are a step line; SYN and FIN are marked where they
    consume their one sequence number."""
    fig, ax = plot_figure(9.0, 4.2)
    client = frame[frame["from"] == "client"]
    server = frame[frame["from"] == "server"]
    data = client[client["len"] > 0]
    for _, row in data.iterrows():
        ax.plot([row["time_ms"]] * 2, [row["seq"], row["seq"] + row["len"]], color="#e15759", linewidth=3,
                solid_capstyle="butt")
        text = bytes(row["payload"]).decode(errors="replace").replace("\n", "⏎")
        ax.annotate(text, (row["time_ms"], row["seq"] + row["len"]), textcoords="offset points", xytext=(4, 2),
                    fontsize=7.5, family="monospace", color="#e15759", parse_math=False)
    acks = server[server["flags"].str.contains(".", regex=False)]
    ax.step(acks["time_ms"], acks["ack"], where="post", color="#4e79a7", linewidth=1.2,
            label="server's ACK: the next client byte it expects")
    for _, row in frame[frame["flags"].str.contains("S|F")].iterrows():
        if row["from"] == "client":
            ax.scatter([row["time_ms"]], [row["seq"]], marker="D", color="#333333", zorder=3, s=25)
            ax.annotate(row["flags"], (row["time_ms"], row["seq"]), textcoords="offset points", xytext=(4, -10),
                        fontsize=8, color="#333333")
    ax.plot([], [], color="#e15759", linewidth=3, label="client data segment: seq … seq + len")
    ax.scatter([], [], marker="D", color="#333333", s=25, label="client SYN / FIN (one sequence number each)")
    ax.set_xlabel("time since the client's SYN (ms)")
    ax.set_ylabel("client sequence number, relative (bytes)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig
