"""What the terminal peer prints: pure functions of records and tables.

Everything another peer chose (names, message text, reasons) goes through ``escape`` first: a control
character (an escape sequence that would recolour or clear your terminal, a bell, a carriage return)
is shown as ``\\x1b``, never written raw.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from netstudy.p2p.core import Arrival

__all__ = ["escape", "render", "peers_text", "HELP"]

HELP = "commands: /peers  /msg NAME text  /quit  (any other line is said to everyone)"


def escape(text: str) -> str:
    """``text`` with control and format characters (C0, DEL, C1, bidi overrides) as Python escapes."""
    out = []
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cf") or ch == "\x7f":
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def render(kind: str, name: str, text: str, arrival: Arrival | None = None) -> str:
    """One record (a message, a join, a leave) as the terminal shows it."""
    who, what = escape(name), escape(text)
    if kind == "message":
        if arrival is not None and arrival.message.to is not None:
            return f"*{who}* {what}"
        return f"<{who}> {what}"
    if kind == "join":
        return f"*** {who} joined"
    if kind == "leave":
        return f"*** {who} left ({what})" if what else f"*** {who} left"
    return f"*** {what}"


def peers_text(rows: Iterable[Mapping[str, Any]]) -> str:
    """``/peers``: one line per member this peer knows, gone ones included."""
    lines = [f"{escape(r['peer']):<22} {r['state']:<8} {r['address']:<22} heard {r['heard_s_ago']:.1f} s ago"
             for r in rows]
    return "\n".join(lines) if lines else "*** no peers yet"
