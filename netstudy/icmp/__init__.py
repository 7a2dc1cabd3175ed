"""Ping and traceroute: ICMP echo and the path hop by hop, measured and printed as iputils and
``traceroute -n`` do.

- ``core.py``: sans-I/O bookkeeping: ping's :class:`Probe` records in a :class:`ProbeLog`, iputils'
  statistics (:func:`summarize`, :class:`PingSummary`), :class:`PingResult`; traceroute's
  :class:`TraceProbe` records in a :class:`ProbeTable`, :class:`Hop`, :class:`TracerouteResult`; a
  traceroute probe's lifecycle as a state table (:class:`TraceState`, :data:`TRACE_TABLE`).
- ``engine.py``: the sockets (``netstudy.net``) and the clock: :class:`Ping` / :func:`ping` /
  :func:`ping_async` / :func:`replay`, :class:`Traceroute` / :func:`traceroute` /
  :func:`traceroute_async` / :func:`replay_trace` (a run rebuilt from a recorded capture).
- ``output.py``: the lines the CLI prints (:func:`header_line`, :func:`probe_line`,
  :func:`statistics_lines`, :func:`ping_lines`; :func:`trace_header_line`, :func:`hop_line`,
  :func:`trace_lines`).
- ``figures.py``: :func:`rtt_plot`, :func:`rtt_histogram`, :func:`hop_plot`.
- ``exercises.py``: the checks notebooks/02_ping.ipynb's exercises call; ``solutions.py`` their
  reference answers, shown on demand.

The echo request's bytes and what an arriving ICMP message means are ``netstudy.wire.echo``'s; the
sockets are ``netstudy.net``'s.
"""
from netstudy.icmp.core import (
    TRACE_TABLE,
    Hop,
    PingResult,
    PingSummary,
    Probe,
    ProbeLog,
    ProbeTable,
    TraceProbe,
    TracerouteResult,
    TraceState,
    summarize,
)
from netstudy.icmp.engine import (
    Ping,
    Traceroute,
    ping,
    ping_async,
    replay,
    replay_trace,
    traceroute,
    traceroute_async,
)
from netstudy.icmp.figures import hop_plot, rtt_histogram, rtt_plot
from netstudy.icmp.output import (
    format_time,
    header_line,
    hop_line,
    ping_lines,
    probe_line,
    statistics_lines,
    trace_header_line,
    trace_lines,
)

__all__ = ["TRACE_TABLE", "Hop", "PingResult", "PingSummary", "Probe", "ProbeLog", "ProbeTable", "TraceProbe",
           "TracerouteResult", "TraceState", "summarize", "Ping", "Traceroute", "ping", "ping_async", "replay",
           "replay_trace", "traceroute", "traceroute_async", "hop_plot", "rtt_histogram", "rtt_plot", "format_time",
           "header_line", "hop_line", "ping_lines", "probe_line", "statistics_lines", "trace_header_line",
           "trace_lines"]
