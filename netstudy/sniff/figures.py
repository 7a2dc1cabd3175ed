"""A capture's figures, on ``netstudy.show``'s primitives and colours: packets per protocol over time."""
from __future__ import annotations

from collections import Counter
from typing import Any

from netstudy.show.colors import layer_color
from netstudy.show.diagram import plot_figure
from netstudy.sniff.core import CaptureResult

__all__ = ["protocol_timeline"]


def protocol_timeline(result: CaptureResult, bins: int = 20, title: str = "Packets per protocol over time") -> Any:
    """Stacked bars: the capture cut into ``bins`` equal time slices, each bar the frames of the slice
    by their top protocol (``ICMP``, ``DNS``, ``TCP``...), time in ms from the first frame."""
    import numpy as np
    frames = result.frames
    fig, ax = plot_figure(8.0, 3.6)
    if not frames:
        ax.set_title(f"{title} (no packets)")
        return fig
    start = frames[0].timestamp_ns
    times = [(f.timestamp_ns - start) / 1e6 for f in frames]
    protocols = [str(f.decode().row()["protocol"]) for f in frames]
    span = max(times[-1], 1e-3)
    width = span / bins
    slots = [min(int(t / width), bins - 1) for t in times]
    bottom = np.zeros(bins)
    centres = (np.arange(bins) + 0.5) * width
    for protocol, _ in Counter(protocols).most_common():
        heights = np.zeros(bins)
        for slot, name in zip(slots, protocols, strict=True):
            if name == protocol:
                heights[slot] += 1
        ax.bar(centres, heights, width=width * 0.9, bottom=bottom, label=protocol, color=layer_color(protocol))
        bottom += heights
    ax.set_xlabel("time since the first packet (ms)")
    ax.set_ylabel("packets per slice")
    ax.set_title(title)
    ax.legend(title="protocol", fontsize=8)
    fig.tight_layout()
    return fig
