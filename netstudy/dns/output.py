"""The text ``netstudy dns query`` prints, in dig's format: pure functions of a :class:`Lookup`.

The message itself (header, flags, sections) is written by ``Message.to_text()`` in
``netstudy.wire.dns``; here are the lines dig puts around it.
"""
from __future__ import annotations

from netstudy.dns.core import Lookup

__all__ = ["lookup_text", "dig_text", "short_text"]


def lookup_text(lookup: Lookup) -> str:
    """The reply the way dig shows it, with query time and server lines."""
    return (lookup.response.to_text() + f"\n\n;; Query time: {round(lookup.rtt_ms)} msec\n"
            f";; SERVER: {lookup.server_text}({lookup.server[0]}) ({lookup.transport})\n"
            f";; MSG SIZE  rcvd: {lookup.size}")


def dig_text(lookup: Lookup, banner: str) -> str:
    """dig's whole output for one lookup: ``banner`` is what follows ``; <<>>`` (the program, its version
    and the command's arguments), then the reply; a TCP retry after truncation is announced first."""
    lines = [";; Truncated, retrying in TCP mode."] if lookup.truncated_first else []
    lines += ["", f"; <<>> {banner}", ";; Got answer:", lookup_text(lookup), "", ""]
    return "\n".join(lines)


def short_text(lookup: Lookup) -> str:
    """dig ``+short``: the answers' data, one a line."""
    return "".join(f"{text}\n" for text in lookup.answers())
