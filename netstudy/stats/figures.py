"""One call per capture-statistics table draws it (matplotlib, on ``netstudy.show``'s figures and
colours): the protocol hierarchy as nested bars, conversations and endpoints as bars, the I/O graph,
the time-sequence (Stevens) graph of a TCP connection, and the handshake and DNS time histograms.
Every axis says what it counts and in which unit."""
from __future__ import annotations

from typing import Any

from netstudy.show.colors import layer_color
from netstudy.show.diagram import plot_figure

__all__ = ["hierarchy_bars", "conversation_bars", "endpoint_bars", "io_plot", "time_sequence", "rtt_histogram",
           "dns_histogram"]

_LAYER_OF = {"eth": "Ethernet", "sll": "Ethernet", "null": "Ethernet", "raw": "Ethernet", "vlan": "802.1Q",
             "ieee8021ad": "802.1Q", "arp": "ARP", "ip": "IPv4", "ipv6": "IPv6", "icmp": "ICMP", "icmpv6": "ICMPv6",
             "tcp": "TCP", "udp": "UDP", "dns": "DNS", "data": "payload"}
A_TO_B, B_TO_A = "#4e79a7", "#f28e2b"


def _color(protocol: str) -> str:
    return layer_color(_LAYER_OF.get(protocol, protocol))


def hierarchy_bars(table: Any, title: str = "Protocol hierarchy") -> Any:
    """The protocol hierarchy as an icicle: one row of bars per depth, each protocol as wide as its
    bytes and placed inside its parent's bar, so a row shows how the layer above divides its bytes."""
    fig, ax = plot_figure(9, 0.7 * max(int(table["depth"].max()) + 1, 2) + 1.2 if len(table) else 2)
    cursor: dict[str, float] = {}
    for row in table.itertuples(index=False):
        parent = row.path.rpartition(":")[0]
        left = cursor.get(parent, 0.0)
        cursor[parent] = left + row.bytes
        cursor.setdefault(row.path, left)
        ax.barh(row.depth, row.bytes, left=left, height=0.9, color=_color(row.protocol), edgecolor="white")
        ax.text(left + row.bytes / 2, row.depth, f"{row.protocol}\n{row.frames} fr", ha="center", va="center",
                fontsize=7, clip_on=True)
    ax.invert_yaxis()
    ax.set_yticks(range(int(table["depth"].max()) + 1 if len(table) else 1))
    ax.set_xlabel("bytes (frame lengths on the wire)")
    ax.set_ylabel("depth in the protocol stack")
    ax.set_title(title)
    return fig


def conversation_bars(table: Any, top: int = 15, title: str | None = None) -> Any:
    """The ``top`` conversations by bytes: bytes A→B and B→A stacked, one bar per pair of endpoints."""
    rows = table.sort_values("bytes", ascending=False).head(top).iloc[::-1]
    ported = "port_a" in rows.columns
    labels = [f"{r.address_a}:{r.port_a} ↔ {r.address_b}:{r.port_b}" if ported else f"{r.address_a} ↔ {r.address_b}"
              for r in rows.itertuples(index=False)]
    fig, ax = plot_figure(9, 0.35 * max(len(rows), 3) + 1.2)
    ax.barh(labels, rows["bytes_a_to_b"], color=A_TO_B, label="A → B")
    ax.barh(labels, rows["bytes_b_to_a"], left=rows["bytes_a_to_b"], color=B_TO_A, label="B → A")
    ax.set_xlabel("bytes (frame lengths on the wire)")
    ax.set_ylabel("conversation (A ↔ B)")
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(loc="lower right")
    ax.set_title(title or f"Conversations by bytes (top {min(top, len(table))})")
    return fig


def endpoint_bars(table: Any, top: int = 15, title: str | None = None) -> Any:
    """The ``top`` endpoints by bytes: bytes sent and received, stacked."""
    rows = table.sort_values("bytes", ascending=False).head(top).iloc[::-1]
    labels = [f"{r.address}:{r.port}" if "port" in rows.columns else str(r.address) for r in rows.itertuples()]
    fig, ax = plot_figure(9, 0.35 * max(len(rows), 3) + 1.2)
    ax.barh(labels, rows["tx_bytes"], color=A_TO_B, label="sent (Tx)")
    ax.barh(labels, rows["rx_bytes"], left=rows["tx_bytes"], color=B_TO_A, label="received (Rx)")
    ax.set_xlabel("bytes (frame lengths on the wire)")
    ax.set_ylabel("endpoint")
    ax.legend(loc="lower right")
    ax.set_title(title or f"Endpoints by bytes (top {min(top, len(table))})")
    return fig


def io_plot(table: Any, title: str | None = None) -> Any:
    """The I/O graph: frames per interval as bars, bytes per interval as a line on the right axis."""
    fig, ax = plot_figure(9, 3.6)
    width = float(table["end_s"].iloc[0] - table["start_s"].iloc[0]) if len(table) else 1.0
    ax.bar(table["start_s"], table["frames"], width=width, align="edge", color=A_TO_B, alpha=0.8, label="frames")
    ax.set_xlabel("time since the first frame (s)")
    ax.set_ylabel(f"frames per {width:g} s", color=A_TO_B)
    right = ax.twinx()
    right.step(table["start_s"], table["bytes"], where="post", color=B_TO_A, label="bytes")
    right.set_ylabel(f"bytes per {width:g} s", color=B_TO_A)
    ax.set_title(title or "I/O graph")
    return fig


def time_sequence(segments: Any, title: str | None = None) -> Any:
    """The time-sequence graph (Stevens) of one TCP connection, A→B: each segment an I-bar from its
    relative sequence number to the end of its payload; B→A's acknowledgment numbers as a step line
    under it (the gap between them is the data in flight)."""
    fig, ax = plot_figure(9, 4.2)
    sent = segments[segments["direction"] == "A→B"]
    acks = segments[(segments["direction"] == "B→A") & segments["relative_ack"].notna()]
    top = sent["relative_seq"] + sent["payload_bytes"]
    ax.vlines(sent["time_s"], sent["relative_seq"], top, color=A_TO_B, linewidth=1.6,
              label="A→B segment (seq … seq+len)")
    ax.scatter(sent["time_s"], top, marker="_", color=A_TO_B, s=40)
    if len(acks):
        ax.step(acks["time_s"], acks["relative_ack"].astype(float), where="post", color=B_TO_A,
                label="B→A acknowledgment")
    ax.set_xlabel("time since the first frame (s)")
    ax.set_ylabel("sequence number, relative to A's first (bytes)")
    ax.legend(loc="upper left")
    ax.set_title(title or "TCP time-sequence graph (Stevens)")
    return fig


def rtt_histogram(table: Any, bins: int = 30, title: str | None = None) -> Any:
    """Handshake times: SYN → SYN/ACK and the whole handshake (SYN → ACK, tshark's initial RTT)."""
    fig, ax = plot_figure(7, 3.6)
    for column, color, label in (("syn_to_synack_ms", A_TO_B, "SYN → SYN/ACK"),
                                 ("initial_rtt_ms", B_TO_A, "SYN → ACK (initial RTT)")):
        values = table[column].dropna()
        if len(values):
            ax.hist(values, bins=bins, color=color, alpha=0.6, label=label)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("connections")
    ax.legend()
    ax.set_title(title or f"TCP handshake times ({int(table['syn_to_synack_ms'].notna().sum())} answered)")
    return fig


def dns_histogram(table: Any, bins: int = 30, title: str | None = None) -> Any:
    """DNS response times, one colour per response code."""
    fig, ax = plot_figure(7, 3.6)
    answered = table[table["response_ms"].notna()]
    groups = [(code, rows["response_ms"]) for code, rows in answered.groupby("rcode")]
    if groups:
        ax.hist([values for _, values in groups], bins=bins, stacked=True, label=[code for code, _ in groups])
        ax.legend(title="rcode")
    ax.set_xlabel("query → response (ms)")
    ax.set_ylabel("queries")
    ax.set_title(title or f"DNS response times ({len(answered)} of {len(table)} answered)")
    return fig
