"""DNS over ``netstudy.wire.dns``: a stub resolver, an authoritative server, zone files.

The files (ARCHITECTURE.md's layout):

- ``core/`` (sans-I/O; a package, being over 600 lines): ``exchange.py`` — :class:`Exchange`, one
  query's state (``send`` / ``send_tcp`` / ``receive`` / ``expire``, all with ``now_ns``; its
  :class:`State` table), :class:`Lookup` and :func:`to_frame`; ``responder.py`` — :class:`Responder`,
  the server's answer logic (``receive(query_bytes) -> reply bytes | None``); ``zone.py`` —
  :class:`Zone`, :func:`parse_zone` and :class:`ZoneError`. Zones live in the core because they are pure
  (text in, records out) and the responder answers from them; reading a file is the engine's
  (:func:`load_zone`).
- ``engine/``: ``resolver.py`` — :func:`query`, :func:`query_many` (selectors), :func:`query_async`,
  :func:`query_many_async`, :func:`run`, :func:`resolve`, :func:`reverse`; ``server.py`` —
  :class:`DnsServer` (one selectors loop, UDP and TCP) and :func:`load_zone`.
- ``output.py``: the dig-format text ``netstudy dns query`` prints.
- ``figures.py``: :func:`compression_figure`, :func:`lookup_histogram`, :func:`driver_comparison`.
- ``exercises.py``: the checks notebook 01's exercises call; ``solutions.py`` their reference answers,
  shown on demand.
- ``seed.py``: the course's original plain-text program (``ToyServer``, ``toy_lookup``), standard
  library only, the notebook's first socket program.
"""
from netstudy.dns.core import (
    DEFAULT_PORT,
    DEFAULT_SERVER,
    EDNS_PAYLOAD,
    MAX_TIMEOUT,
    MAX_TRIES,
    TABLE,
    DnsTimeout,
    Exchange,
    Lookup,
    ResolveError,
    Responder,
    State,
    Zone,
    ZoneError,
    make_query,
    parse_zone,
    to_frame,
)
from netstudy.dns.engine import (
    DEFAULT_HOST,
    MAX_DELAY,
    SERVE_PORT,
    DnsServer,
    ServerStats,
    load_zone,
    query,
    query_async,
    query_many,
    query_many_async,
    resolve,
    reverse,
    run,
)
from netstudy.dns.figures import compression_figure, driver_comparison, lookup_histogram
from netstudy.dns.output import dig_text, lookup_text, short_text

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "DEFAULT_SERVER", "EDNS_PAYLOAD", "MAX_DELAY", "MAX_TIMEOUT", "MAX_TRIES",
           "SERVE_PORT", "TABLE",
           "DnsServer", "DnsTimeout", "Exchange", "Lookup", "ResolveError", "Responder", "ServerStats", "State",
           "Zone", "ZoneError", "compression_figure", "dig_text", "driver_comparison", "load_zone",
           "lookup_histogram", "lookup_text", "make_query", "parse_zone", "query", "query_async", "query_many",
           "query_many_async", "resolve", "reverse", "run", "short_text", "to_frame"]
