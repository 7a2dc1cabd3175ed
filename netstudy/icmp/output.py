"""The lines ``netstudy ping`` and ``netstudy traceroute`` print, in the format of iputils ``ping`` and
``traceroute -n``: pure functions of records and results (names and reverse lookups are given to them,
never looked up here).
"""
from __future__ import annotations

import math

from netstudy.icmp.core import Hop, PingResult, PingSummary, Probe, TracerouteResult


# -- ping (iputils) ----------------------------------------------------------------------------------
def _ms3(value_ms: float | None) -> str:
    """Milliseconds with 3 decimals, cut (not rounded) to the microsecond as iputils' integer arithmetic does."""
    us = math.floor((value_ms or 0.0) * 1000 + 1e-6)
    return f"{us // 1000}.{us % 1000:03d}"


def format_time(rtt_ns: int) -> str:
    """``time=0.045 ms`` with iputils' precision: 3 decimals below 1 ms, 2 below 10, 1 below 100."""
    us = rtt_ns // 1000
    if us >= 100_000 - 50:
        return f"time={(us + 500) // 1000} ms"
    if us >= 10_000 - 5:
        return f"time={(us + 50) // 1000}.{(us + 50) % 1000 // 100} ms"
    if us >= 1000:
        return f"time={(us + 5) // 1000}.{(us + 5) % 1000 // 10:02d} ms"
    return f"time={us // 1000}.{us % 1000:03d} ms"


def header_line(host: str, address: str, size: int, version: int, source: str | None = None,
                device: str = "", address_name: str | None = None) -> str:
    """``PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.`` (IPv6: ``PING ::1(::1) 56 data bytes``);
    with a source address (and the interface it was given as), ``from 127.0.0.1 lo:`` after the target.
    ``address_name``: for IPv6 when ``host`` is a name, iputils shows the address's own name beside it
    (``PING localhost(localhost (::1))``); the caller looks it up (``commands.common.reverse``)."""
    via = f" from {source} {device}:" if source else ""
    if version == 4:
        return f"PING {host} ({address}){via} {size}({size + 28}) bytes of data."
    if address_name and host != address.split("%")[0]:
        address = f"{address_name} ({address})"
    return f"PING {host}({address}){via} {size} data bytes"


def probe_line(probe: Probe, timed: bool = True, name: str | None = None, verbose: bool = False) -> str:
    """One line per answer: ``64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.045 ms`` or
    ``From 10.0.1.1 icmp_seq=1 Time to live exceeded``. ``name``: the source's host name, shown as
    iputils does (``localhost (127.0.0.1)``). ``verbose`` adds (late) and (out of order)."""
    who = f"{name} ({probe.source})" if name and name != probe.source else probe.source
    if probe.error is not None:
        if probe.source is None:
            return probe.error
        return f"From {who} icmp_seq={probe.icmp_seq} {probe.error}"
    line = f"{probe.size} bytes from {who}: icmp_seq={probe.icmp_seq} ttl={probe.ttl}"
    if timed and probe.rtt_ns is not None:
        line += " " + format_time(probe.rtt_ns)
    if probe.duplicate:
        line += " (DUP!)"
    if probe.corrupted:
        line += " (BAD CHECKSUM!)"
    if verbose and probe.late:
        line += " (late)"
    if verbose and probe.out_of_order:
        line += " (out of order)"
    return line


def statistics_lines(host: str, summary: PingSummary, timed: bool = True) -> list[str]:
    """The closing block: ``--- HOST ping statistics ---``, the counts, and ``rtt min/avg/max/mdev``."""
    s = summary
    counts = f"{s.transmitted} packets transmitted, {s.received} received"
    if s.duplicates:
        counts += f", +{s.duplicates} duplicates"
    if s.corrupted:
        counts += f", +{s.corrupted} corrupted"
    if s.errors:
        counts += f", +{s.errors} errors"
    if s.transmitted:
        counts += f", {s.loss_percent:g}% packet loss, time {round(s.time_ms)}ms"
    last = []
    if s.received and timed and s.min_ms is not None:
        last.append("rtt min/avg/max/mdev = " + "/".join(_ms3(v) for v in
                                                          (s.min_ms, s.avg_ms, s.max_ms, s.mdev_ms)) + " ms")
    if s.pipe > 1:
        last.append(f"pipe {s.pipe}")
    if s.ipg_ms is not None and s.received:
        last.append(f"ipg/ewma {_ms3(s.ipg_ms)}/{_ms3(s.ewma_ms)} ms")
    return ["", f"--- {host} ping statistics ---", counts, ", ".join(last)]


def ping_lines(result: PingResult, quiet: bool = False, address_name: str | None = None) -> list[str]:
    """A whole run in iputils' format: header, one line per answer in arrival order (unless ``quiet``),
    statistics."""
    out = [header_line(result.host, result.address, result.size, result.version, address_name=address_name)]
    if not quiet:
        answers = sorted((r for r in result.records if r.received_ns is not None or r.error is not None),
                         key=lambda r: r.received_ns or r.sent_ns)
        out += [probe_line(r, result.timed) for r in answers]
    return out + statistics_lines(result.host, result.summary, result.timed)


# -- traceroute -n ---------------------------------------------------------------------------------------
def trace_header_line(host: str, address: str, max_hops: int, packet_size: int) -> str:
    """``traceroute to 10.0.3.10 (10.0.3.10), 30 hops max, 60 byte packets``."""
    return f"traceroute to {host} ({address}), {max_hops} hops max, {packet_size} byte packets"


def hop_line(hop: Hop) -> str:
    """As ``traceroute -n`` prints a hop: `` 2  10.0.2.1  0.069 ms  0.018 ms  0.014 ms``; ``*`` for a
    probe nobody answered, the address again only when it changes, then the probe's mark (``!H``)."""
    text, previous = f"{hop.ttl:2d} ", None
    for probe in hop.probes:
        if probe.source is None or probe.rtt_ns is None:
            text += " *"
            continue
        if probe.source != previous:
            text += f" {probe.source}"
            previous = probe.source
        text += f"  {probe.rtt_ns / 1e6:.3f} ms"
        if probe.mark:
            text += f" {probe.mark}"
    return text


def trace_lines(result: TracerouteResult) -> list[str]:
    """A whole trace as ``traceroute -n`` prints it: the header, then a line per hop."""
    return ([trace_header_line(result.host, result.address, result.max_hops, result.packet_size)]
            + [hop_line(hop) for hop in result.hops])
