"""The tables as ``tshark -q -z`` prints them (tshark(1), "-z"): the framed blocks of ``io,phs``,
``conv,TYPE``, ``endpoints,TYPE`` and ``io,stat,INTERVAL``; the handshake, DNS and flag tables, which
tshark has no ``-z`` for, in the same frame. Pure functions of the tables' DataFrames."""
from __future__ import annotations

from typing import Any

RULE = "=" * 80
PHS_RULE = "=" * 67
_TITLES = {"eth": "Ethernet", "ip": "IPv4", "ipv6": "IPv6", "tcp": "TCP", "udp": "UDP"}


def size_text(n: int) -> str:
    """A byte count as tshark's conversation table writes it: SI units once there are ten of them
    (``1114 bytes``, ``21 kB``), the count divided down, not rounded."""
    for power, unit in ((10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "kB")):
        if n // power >= 10:
            return f"{n // power} {unit}"
    return f"{n} bytes"


def hierarchy_lines(table: Any) -> list[str]:
    """``-z io,phs``: each protocol indented under its parent, its frames and bytes."""
    lines = ["", PHS_RULE, "Protocol Hierarchy Statistics", "Filter: ", ""]
    for row in table.itertuples(index=False):
        lines.append(f"{'  ' * row.depth + row.protocol:<41}frames:{row.frames} bytes:{row.bytes}")
    return lines + [PHS_RULE]


def _end(address: object, port: object = None) -> str:
    return str(address) if port is None else f"{address}:{port}"


def conversation_lines(table: Any, proto: str) -> list[str]:
    """``-z conv,TYPE``: A <-> B, frames and bytes B->A (``<-``), A->B (``->``) and in total, relative
    start and duration; most frames first, as tshark sorts them."""
    ported = proto in ("tcp", "udp")
    width = 26 if ported else 20
    pad = " " * (2 * width + 7)
    lines = [RULE, f"{_TITLES[proto]} Conversations", "Filter:<No Filter>",
             f"{pad}|       <-      | |       ->      | |     Total     |    Relative    |   Duration   |",
             f"{pad}| Frames  Bytes | | Frames  Bytes | | Frames  Bytes |      Start     |              |"]
    ordered = table.sort_values(["frames", "start_s"], ascending=[False, True], kind="stable")
    for row in ordered.itertuples(index=False):
        a = _end(row.address_a, row.port_a if ported else None)
        b = _end(row.address_b, row.port_b if ported else None)
        lines.append(f"{a:<{width}} <-> {b:<{width}} {row.frames_b_to_a:>6} {size_text(row.bytes_b_to_a):<10}"
                     f"{row.frames_a_to_b:>6} {size_text(row.bytes_a_to_b):<10}{row.frames:>6} "
                     f"{size_text(row.bytes):<10}{row.start_s:>16.9f}{row.duration_s:>20.4f}")
    return lines + [RULE]


def endpoint_lines(table: Any, proto: str) -> list[str]:
    """``-z endpoints,TYPE``: frames and bytes in all, sent (Tx) and received (Rx), per endpoint."""
    ported = proto in ("tcp", "udp")
    port_head = "|  Port  |" if ported else ""
    lines = [RULE, f"{_TITLES[proto]} Endpoints", "Filter:<No Filter>",
             f"{'':<23}{port_head}|  Packets  | |  Bytes  | | Tx Packets | | Tx Bytes | | Rx Packets | | Rx Bytes |"]
    for row in table.itertuples(index=False):
        port = f"{row.port:>8}" if ported else ""
        lines.append(f"{row.address!s:<23}{port}{row.frames:>11}{row.bytes:>14}{row.tx_frames:>11}"
                     f"{row.tx_bytes:>16}{row.rx_frames:>12}{row.rx_bytes:>16}")
    return lines + [RULE]


def io_lines(table: Any, interval_s: float) -> list[str]:
    """``-z io,stat,INTERVAL``: the boxed table of frames and bytes per interval."""
    duration = float(table["end_s"].iloc[-1]) if len(table) else 0.0
    cells = [(f"{row.start_s:.3f} <> {row.end_s:.3f}", str(row.frames), str(row.bytes))
             for row in table.itertuples(index=False)]
    widths = [max([len("Interval"), *(len(c[0]) for c in cells)]), max([6, *(len(c[1]) for c in cells)]),
              max([5, *(len(c[2]) for c in cells)])]
    inner = sum(widths) + 8

    def boxed(text: str) -> str:
        return f"| {text:<{inner - 1}}|"

    rule = "|" + "-" * inner + "|"
    lines = ["", "=" * (inner + 2), boxed("IO Statistics"), boxed(""), boxed(f"Duration: {duration:.3f} secs"),
             boxed(f"Interval: {interval_s:g} secs"), boxed(""), boxed("Col 1: Frames and bytes"), rule,
             f"| {'Interval':<{widths[0]}} | {'Frames':>{widths[1]}} | {'Bytes':>{widths[2]}} |", rule]
    for interval, frames, size in cells:
        lines.append(f"| {interval:<{widths[0]}} | {frames:>{widths[1]}} | {size:>{widths[2]}} |")
    return lines + ["=" * (inner + 2)]


def table_lines(table: Any, title: str) -> list[str]:
    """A table tshark has no ``-z`` for (handshake times, DNS times, TCP flags), in the same frame."""
    body = table.to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.3f}") if len(table) else "(none)"
    return [RULE, title, "Filter:<No Filter>", *body.splitlines(), RULE]
