"""The lines ``netstudy sweep`` prints: one live host a line, as ``fping -a -e`` does (its address and
round-trip time; the TTL as ``fping --print-ttl`` shows it; for ARP, the MAC address and vendor as
``nmap -sn`` reports them), then a summary: ``10 hosts up of 254 scanned in 1.02 s``."""
from __future__ import annotations

from netstudy.sweep.core import State, SweepResult, Target


def format_ms(rtt_ms: float) -> str:
    """fping's way with times: three significant digits or so (0.052, 1.23, 12.3, 123)."""
    if rtt_ms < 1:
        return f"{rtt_ms:.3f}"
    if rtt_ms < 10:
        return f"{rtt_ms:.2f}"
    if rtt_ms < 100:
        return f"{rtt_ms:.1f}"
    return f"{rtt_ms:.0f}"


def host_line(target: Target) -> str:
    """``10.0.0.10 (0.052 ms) (TTL 64)``; ARP: ``10.0.0.10 (0.061 ms) 02:00:0a:00:00:0a (locally
    administered)``; TCP: ``10.0.0.10 (0.21 ms) tcp/80 syn-ack``; not alive: ``10.0.0.99 silent``, or
    ``10.0.0.99 unreachable: Destination Host Unreachable from 10.0.0.1``."""
    if target.state is State.SILENT:
        return f"{target.address} silent"
    if target.state is State.UNREACHABLE:
        by = f" from {target.source}" if target.source and target.source != target.address else ""
        return f"{target.address} unreachable: {target.answer}{by}"
    if target.state is not State.ALIVE:
        return f"{target.address} {target.state.value}"
    line = target.address
    if target.rtt_ms is not None:
        line += f" ({format_ms(target.rtt_ms)} ms)"
    if target.ttl is not None:
        line += f" (TTL {target.ttl})"
    if target.mac:
        line += f" {target.mac} ({target.vendor or 'unknown'})"
    if target.port is not None:
        line += f" tcp/{target.port} {target.answer}"
    elif target.answer == "local":
        line += " (this host)"
    return line


def summary_line(result: SweepResult) -> str:
    """``10 hosts up of 254 scanned in 1.02 s``."""
    up = len(result.alive)
    return f"{up} host{'' if up == 1 else 's'} up of {result.scanned} scanned in {result.elapsed_s:.2f} s"


def sweep_lines(result: SweepResult, everything: bool = False) -> list[str]:
    """Every live host's line in sweep order (``everything``: every address's), then the summary."""
    shown = result.targets if everything else tuple(result.alive)
    return [host_line(t) for t in shown] + [summary_line(result)]
