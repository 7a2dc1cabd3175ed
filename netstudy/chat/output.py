"""What the terminal client prints: each server line as a person reads it, with a colour per nickname
(the same name always gets the same colour, as irssi and weechat do). Pure functions of ``ServerLine``."""
from __future__ import annotations

import zlib

from netstudy.chat.core import ServerLine

_COLOURS = (31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96)


def nick_colour(nick: str) -> int:
    """The ANSI colour of a nickname: always the same for the same name (CRC-32 of it)."""
    return _COLOURS[zlib.crc32(nick.lower().encode()) % len(_COLOURS)]


def render(ev: ServerLine, colour: bool) -> str:
    """One server line as the terminal shows it, with coloured names when ``colour``."""
    def paint(text: str, code: int | str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if colour else text

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
