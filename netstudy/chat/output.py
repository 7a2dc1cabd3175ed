"""What the terminal client prints: each server line as a person reads it, with a colour per nickname
(the same name always gets the same colour, as irssi and weechat do). Pure functions of ``ServerLine``.

Whatever came from the server is shown through :func:`visible`: another user's escape sequences
(clear the screen, recolour it, retitle the window, ring the bell) appear as text, ``\\x1b[2J``, and
never reach the terminal as commands. Only the colours this module adds are real escapes.
"""
from __future__ import annotations

import re
import zlib

from netstudy.chat.core import ServerLine

_COLOURS = (31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96)


def nick_colour(nick: str) -> int:
    """The ANSI colour of a nickname: always the same for the same name (CRC-32 of it)."""
    return _COLOURS[zlib.crc32(nick.lower().encode()) % len(_COLOURS)]


# C0 controls (ESC, BEL, CR, BS, ...), DEL, C1 controls (U+009B is a one-character CSI on some
# terminals) and the bidirectional overrides and isolates that reorder what follows them on screen
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with every control character written out as Python writes it (``\\x1b``, ``\\x07``,
    ``\\u202e``), so a peer's bytes are shown, never obeyed, by the terminal."""
    return _CONTROL.sub(_escape, text)


def render(ev: ServerLine, colour: bool) -> str:
    """One server line as the terminal shows it, with coloured names when ``colour``; the server's
    text (names, messages, error codes) goes through :func:`visible`."""
    def paint(text: str, code: int | str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if colour else text

    ev = ServerLine(ev.kind, visible(ev.text), visible(ev.sender or ""), visible(ev.code or ""))
    sender = ev.sender or ""
    if ev.kind == "message":
        return f"{paint('<' + sender + '>', nick_colour(sender))} {ev.text}"
    if ev.kind == "private":
        return f"{paint('*' + sender + '*', f'1;{nick_colour(sender)}')} {ev.text}"
    if ev.kind == "action":
        return paint(f"* {sender} {ev.text}", nick_colour(sender))
    if ev.kind == "error":
        return paint(f"error: {ev.code} {ev.text}", "1;31")
    return paint(f"*** {ev.text}", 2)
