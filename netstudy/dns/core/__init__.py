"""The DNS program's sans-I/O core: no socket, no clock, no file, no printing.

- ``exchange.py``: :class:`Exchange`, one query's state (send, receive, expire, with ``now_ns``; its
  :class:`State` table), and :class:`Lookup`, the record of an answered query (``to_frame``).
- ``responder.py``: :class:`Responder`, an authoritative server's answer logic (query bytes in, reply
  bytes out).
- ``zone.py``: :class:`Zone` and :func:`parse_zone`, RFC 1035 master-file text to records.
"""
from netstudy.dns.core.exchange import (
    DEFAULT_PORT,
    DEFAULT_SERVER,
    MAX_TIMEOUT,
    MAX_TRIES,
    TABLE,
    DnsTimeout,
    Exchange,
    Lookup,
    ResolveError,
    State,
    make_query,
    to_frame,
)
from netstudy.dns.core.responder import EDNS_PAYLOAD, Responder
from netstudy.dns.core.zone import Zone, ZoneError, parse_zone

__all__ = ["DEFAULT_PORT", "DEFAULT_SERVER", "EDNS_PAYLOAD", "MAX_TIMEOUT", "MAX_TRIES", "TABLE", "DnsTimeout",
           "Exchange", "Lookup", "ResolveError", "Responder", "State", "Zone", "ZoneError", "make_query", "parse_zone",
           "to_frame"]
