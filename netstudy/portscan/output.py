"""The text ``netstudy portscan`` prints, in nmap's shape (nmap's normal output, ``-oN``): pure
functions of a :class:`~netstudy.portscan.core.ScanResult`.

    Scan report for 127.0.0.1
    Host is up (0.000041s latency).
    Not shown: 65530 closed tcp ports (conn-refused)
    PORT      STATE SERVICE REASON
    22/tcp    open  ssh     syn-ack
    |_banner: SSH-2.0-OpenSSH_9.2

A state other than ``open`` with more than :data:`SHOW_AT_MOST` ports is summed up in the ``Not
shown`` line, one group per state, protocol and reason, as nmap does with its ignored states.
"""
from __future__ import annotations

import math
import operator
from collections import Counter
from collections.abc import Sequence

from netstudy.portscan.columns import least_rtt, not_in, state_groups
from netstudy.portscan.core import SCAN_FLAG, PortRecord, ScanResult, State

SHOW_AT_MOST = 25


def seconds(ns: int) -> str:
    """A time in seconds with two significant digits, written out as nmap writes latency (0.000041)."""
    value = ns / 1e9
    if value <= 0:
        return "0"
    digits = max(0, 1 - math.floor(math.log10(value)))
    return f"{value:.{digits}f}"


def hidden_groups(records: Sequence[PortRecord]) -> Counter[tuple[str, str, str]]:
    """``{(state, protocol, reason): count}`` of the ports the report leaves out."""
    groups = state_groups(records)
    per_state: Counter[State] = Counter()
    for (state, _, _), n in groups.items():
        per_state[state] += n
    hidden = {s for s, n in per_state.items() if s is not State.OPEN and n > SHOW_AT_MOST}
    return Counter({(state.value, protocol, reason): n for (state, protocol, reason), n in groups.items()
                    if state in hidden})


def not_shown_line(groups: Counter[tuple[str, str, str]]) -> str:
    """``Not shown: 65530 closed tcp ports (conn-refused)``, groups largest first ('' for none)."""
    if not groups:
        return ""
    parts = [f"{n} {state} {protocol} port{'s' if n != 1 else ''} ({reason})"
             for (state, protocol, reason), n in sorted(groups.items(), key=lambda g: (-g[1], g[0]))]
    return "Not shown: " + ", ".join(parts)


def port_table(records: Sequence[PortRecord]) -> list[str]:
    """The ``PORT STATE SERVICE REASON`` table of ``records`` (each column as wide as its widest
    entry plus one space, as nmap pads), a ``|_banner:`` line under a port that sent one."""
    rows = [(r.label, r.state.value, r.service or "unknown",
             r.reason + (f" ttl {r.ttl}" if r.ttl is not None else ""), r.banner) for r in records]
    widths = [max(len(head), *(len(row[i]) for row in rows)) + 1 for i, head in enumerate(("PORT", "STATE", "SERVICE"))]
    lines = [f"{'PORT':<{widths[0]}}{'STATE':<{widths[1]}}{'SERVICE':<{widths[2]}}REASON"]
    for label, state, service, reason, banner in rows:
        lines.append(f"{label:<{widths[0]}}{state:<{widths[1]}}{service:<{widths[2]}}{reason}")
        if banner:
            lines.append(f"|_banner: {banner}")
    return lines


def host_lines(result: ScanResult, host: str) -> list[str]:
    """The report for one host: the name, whether it is up, the ``Not shown`` line and the table."""
    records = result.records if result.hosts == (host,) else [r for r in result.records if r.host == host]
    name = result.names.get(host)
    lines = [f"Scan report for {name} ({host})" if name else f"Scan report for {host}"]
    rtt = least_rtt(records)
    if rtt is not None:
        lines.append(f"Host is up ({seconds(rtt)}s latency).")
    else:
        lines.append("Host seems down or every port is silent (no answer to any probe).")
    groups = hidden_groups(records)
    shown = not_in(records, {State(state) for state, _, _ in groups})
    shown.sort(key=operator.attrgetter("port"))
    shown.sort(key=operator.attrgetter("protocol"))            # stable: tcp before udp, each by port
    if not shown:
        lines.append(f"All {len(records)} scanned ports on {name or host} are in ignored states.")
    if groups:
        lines.append(not_shown_line(groups))
    if shown:
        lines.extend(port_table(shown))
    return lines


def report_lines(result: ScanResult) -> list[str]:
    """The whole report: a first line naming the scan, each host's report, the notes, the scan time."""
    flags = " ".join(SCAN_FLAG[s] for s in result.scans)
    lines = [f"Starting netstudy portscan {flags} ({result.mechanism})"
             + (f" at {result.started}" if result.started else "")]
    hosts = result.hosts or tuple(dict.fromkeys(r.host for r in result.records))
    for host in hosts:
        lines.extend(host_lines(result, host))
        lines.append("")
    lines.extend(f"Note: {note}" for note in result.notes)
    count = len(hosts)
    lines.append(f"Done: {count} IP address{'es' if count != 1 else ''} scanned in {result.elapsed_s:.2f} seconds")
    return lines
