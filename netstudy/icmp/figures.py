"""Ping's and traceroute's figures, on ``netstudy.show``'s primitives: RTT over time, the RTT histogram,
and RTT per hop."""
from __future__ import annotations

import math
from typing import Any

from netstudy.icmp.core import PingResult, PingSummary, TracerouteResult
from netstudy.show.diagram import plot_figure

__all__ = ["rtt_plot", "rtt_histogram", "hop_plot"]

_STAT_STYLE = {"min": ("#59a14f", ":"), "avg": ("#e15759", "-"), "max": ("#f28e2b", ":")}


def _ms(value_ms: float) -> str:
    """Milliseconds cut (not rounded) to the microsecond, as ping's summary line prints them, so the legend
    and the printed ``rtt min/avg/max/mdev`` read the same numbers."""
    return f"{math.floor(value_ms * 1000 + 1e-6) / 1000:.3f}"


def _mark_statistics(ax: Any, summary: PingSummary, vertical: bool) -> None:
    """Lines at min, avg and max, and a band for avg ± mdev (iputils' four numbers, as ping prints them)."""
    if summary.avg_ms is None or summary.mdev_ms is None:
        return
    low, high = summary.avg_ms - summary.mdev_ms, summary.avg_ms + summary.mdev_ms
    band = ax.axvspan if vertical else ax.axhspan
    band(low, high, color="#e15759", alpha=0.12, label=f"avg ± mdev ({_ms(summary.mdev_ms)} ms)")
    line = ax.axvline if vertical else ax.axhline
    for name in ("min", "avg", "max"):
        color, style = _STAT_STYLE[name]
        value = getattr(summary, f"{name}_ms")
        line(value, color=color, linestyle=style, linewidth=1.2, label=f"{name} {_ms(value)} ms")


def rtt_plot(result: PingResult, title: str | None = None) -> Any:
    """RTT of every reply against when its probe was sent, with min/avg/max and avg ± mdev marked;
    probes that got no reply are ticks along the bottom (red: an ICMP error, grey: silence)."""
    frame = result.to_frame()
    fig, ax = plot_figure(8.0, 3.4)
    replies = frame[frame["rtt_ms"].notna() & ~frame["duplicate"]]
    ax.plot(replies["sent_ms"], replies["rtt_ms"], marker="o", markersize=3, linewidth=0.8, color="#4e79a7",
            label="reply")
    dups = frame[frame["duplicate"] & frame["rtt_ms"].notna()]
    if len(dups):
        ax.scatter(dups["sent_ms"], dups["rtt_ms"], marker="D", s=18, color="#b07aa1", label="duplicate", zorder=3)
    _mark_statistics(ax, result.summary, vertical=False)
    unanswered = frame[frame["rtt_ms"].isna() & ~frame["duplicate"]]
    for kind, rows, color in (("ICMP error", unanswered[unanswered["error"].notna()], "#d62728"),
                              ("no reply", unanswered[unanswered["error"].isna()], "#7f7f7f")):
        if len(rows):
            ax.plot(rows["sent_ms"], [0] * len(rows), "|", markersize=12, color=color, label=kind)
    ax.set_xlabel("time since the first probe (ms)")
    ax.set_ylabel("round-trip time (ms)")
    s = result.summary
    ax.set_ylim(0, max(result.rtts_ms + [0.001]) * 1.4)            # headroom for the legend
    ax.set_title(title or f"ping {result.host}: {s.transmitted} probes, {s.received} replies, "
                          f"{s.loss_percent:g}% loss ({result.mechanism} socket)")
    ax.legend(loc="upper right", fontsize=7, ncols=3, framealpha=0.9)
    fig.tight_layout()
    return fig


def rtt_histogram(result: PingResult, bins: int = 30, title: str | None = None) -> Any:
    """How the RTTs spread: a histogram with min, avg, max and the avg ± mdev band marked."""
    fig, ax = plot_figure(8.0, 3.4)
    rtts = result.rtts_ms
    ax.hist(rtts, bins=bins, color="#aec7e8", edgecolor="#4e79a7", label="replies")
    _mark_statistics(ax, result.summary, vertical=True)
    ax.set_xlabel("round-trip time (ms)")
    ax.set_ylabel("replies")
    ax.set_title(title or f"ping {result.host}: distribution of {len(rtts)} round-trip times")
    ax.legend(loc="upper right", fontsize=7, framealpha=0.9)
    fig.tight_layout()
    return fig


def hop_plot(trace: TracerouteResult, title: str | None = None) -> Any:
    """Traceroute: the RTT of every probe at every hop, each hop labelled with who answered (the
    destination in red); a probe nobody answered is an x on the axis."""
    fig, ax = plot_figure(8.0, 3.4)
    means: list[tuple[int, float]] = []         # (ttl, mean RTT of the hop's answered probes)
    every: list[float] = []
    for hop in trace.hops:
        answered = [(p, ms) for p in hop.probes if (ms := p.rtt_ms) is not None]
        rtts = [ms for _, ms in answered]
        reached = any(p.source == trace.address for p, _ in answered)
        color = "#e15759" if reached else "#4e79a7"
        ax.scatter([hop.ttl] * len(rtts), rtts, color=color, s=24, zorder=3)
        silent = len(hop.probes) - len(rtts)
        if silent:
            ax.scatter([hop.ttl] * silent, [0] * silent, marker="x", color="#7f7f7f", zorder=3)
        label = ", ".join(hop.addresses) or "*"
        top = max(rtts, default=0.0)
        ax.annotate(label, (hop.ttl, top), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8,
                    color=color)
        means.append((hop.ttl, sum(rtts) / max(1, len(rtts))))
        every += rtts
    ax.plot([t for t, _ in means], [m for _, m in means], color="#bab0ac", linewidth=1, zorder=1,
            label="mean RTT per hop")
    ttls = [hop.ttl for hop in trace.hops]
    if ttls:
        ax.set_xticks(ttls)
        ax.set_xlim(min(ttls) - 0.5, max(ttls) + 0.5)
    ax.set_ylim(bottom=0, top=max([m for _, m in means] + every + [0.001]) * 1.35)
    ax.set_xlabel("hop (TTL of the probe)")
    ax.set_ylabel("round-trip time (ms)")
    ax.set_title(title or f"traceroute {trace.host}: {len(trace.hops)} hops, {trace.method} probes "
                          f"({trace.mechanism} socket)")
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    return fig
