"""The DNS program's engines: the sockets, the clock and the concurrency around the core.

- ``resolver.py``: the stub resolver's drivers around :class:`~netstudy.dns.core.Exchange`: blocking
  :func:`query`, :func:`query_many` (one ``selectors`` loop), :func:`query_async` /
  :func:`query_many_async`, :func:`run` (a coroutine from synchronous code, Jupyter included),
  :func:`resolve` and :func:`reverse`.
- ``server.py``: :class:`DnsServer`, the UDP and TCP socket loop around
  :class:`~netstudy.dns.core.Responder`, and :func:`load_zone` (a master file read from disk).
"""
from netstudy.dns.engine.resolver import query, query_async, query_many, query_many_async, resolve, reverse, run
from netstudy.dns.engine.server import DEFAULT_HOST, MAX_DELAY, SERVE_PORT, DnsServer, ServerStats, load_zone

__all__ = ["DEFAULT_HOST", "MAX_DELAY", "SERVE_PORT", "DnsServer", "ServerStats", "load_zone", "query", "query_async",
           "query_many", "query_many_async", "resolve", "reverse", "run"]
