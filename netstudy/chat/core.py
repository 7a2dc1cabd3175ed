"""The chat room's core, sans-I/O: a line framer and the chat room as a state machine (bytes in, actions out).

Wire format: UTF-8 text, one message per ``\\n``-terminated line (a ``\\r`` before it is dropped, so
``telnet``'s CRLF works too), so ``nc`` is a valid client. Commands follow IRC's spirit (RFC 2812 §3):

    /nick NAME   /join NAME   /list   /msg NAME text   /me action   /quit [reason]   /help

Any other line is said to everyone. A newcomer must first pick a nickname with ``/nick``: a plain line
before that is answered ``ERR not-joined`` (it is neither said nor taken as a name).
Server lines, one per ``\\n``:

    <alice> hello              a message         * alice waves          an action (/me)
    *alice* psst               a private message *** alice joined (3 online)   a notice
    ERR nick-in-use alice      an error: a code, then a detail

Nothing here touches a socket or a clock: servers feed ``ChatRoom`` what arrived (with the time, as
``now_ns``: integer nanoseconds of ``time.monotonic_ns()``) and carry out the ``Send`` / ``Broadcast`` /
``Close`` actions it returns, so every server shares it. A member's lifecycle is the table ``MEMBER``:
``CONNECTED`` (no nickname yet) -> ``JOINED`` -> ``CLOSED``.
"""
from __future__ import annotations

import enum
import re
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from netstudy.states import StateTable
from netstudy.wire.lines import MAX_LINE, Line, LineFramer, LineTooLong, encode_line

MAX_NICK = 16
# RFC 2812 §2.3.1: nickname = ( letter / special ) *( letter / digit / special / "-" ), longer here than its 9.
NICK_RE = re.compile(r"[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]*\Z")

C = TypeVar("C", bound=Hashable)      # what a server uses to name a connection (its own object, an int...)
NS_PER_S = 1_000_000_000
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5555            # the CLI's; the servers default to 0 (the kernel picks a free port)


def nick_problem(name: str) -> str | None:
    """Why ``name`` is not a valid nickname, or None if it is (RFC 2812 §2.3.1, up to MAX_NICK chars)."""
    if not name:
        return "empty"
    if len(name) > MAX_NICK:
        return f"longer than {MAX_NICK} characters"
    if not NICK_RE.match(name):
        return "must start with a letter or one of []\\`_^{|} and hold only those, digits and -"
    return None


def nick_key(name: str) -> str:
    """Nicknames are unique case-insensitively: ``Alice`` and ``alice`` are the same person."""
    return name.lower()


# ------------------------------------------------------------------------------------ server's answers
@dataclass(frozen=True, slots=True)
class Send(Generic[C]):
    """Send ``line`` (encoded, with its newline) to one connection."""
    to: C
    line: bytes


@dataclass(frozen=True, slots=True)
class Broadcast(Generic[C]):
    """Send ``line`` to every joined member except ``exclude``: one encoding for all recipients."""
    line: bytes
    exclude: C | None = None


@dataclass(frozen=True, slots=True)
class Close(Generic[C]):
    """Close the connection once what is queued for it is sent; the room has already forgotten it."""
    conn: C
    reason: str


@dataclass(frozen=True, slots=True)
class Log:
    """Something the server operator should see: joins, leaves and renames, with the count online."""
    message: str


Action = Send[C] | Broadcast[C] | Close[C] | Log


class State(enum.Enum):
    """Where a member is in its life in the room."""
    CONNECTED = "connected"      # a connection without a nickname: it may only pick one (or ask for help, quit)
    JOINED = "joined"            # in the room under a nickname: hears and is heard
    CLOSED = "closed"            # gone (quit, connection closed, idle, server stopping): the room forgot it


# Reading a member of an Enum class costs ~70 ns (EnumType's attribute lookup), the hot path's
# comparisons use these names instead (one global lookup each).
_CONNECTED, _JOINED, _CLOSED = State.CONNECTED, State.JOINED, State.CLOSED

# (state, event) -> next state. Events: "nick" (a valid, free nickname: a join, then a rename), "quit"
# (/quit), "close" (the connection ended: EOF, error, slow reader, server stopping), "idle" (silent
# longer than idle_timeout).
MEMBER: StateTable[State] = StateTable(State.CONNECTED, {
    (State.CONNECTED, "nick"): State.JOINED,
    (State.JOINED, "nick"): State.JOINED,
    (State.CONNECTED, "quit"): State.CLOSED,
    (State.JOINED, "quit"): State.CLOSED,
    (State.CONNECTED, "close"): State.CLOSED,
    (State.JOINED, "close"): State.CLOSED,
    (State.CONNECTED, "idle"): State.CLOSED,
    (State.JOINED, "idle"): State.CLOSED,
})


@dataclass(slots=True)
class Member(Generic[C]):
    """What the room knows about one connection; ``nick`` is meaningful once ``state`` is JOINED."""
    conn: C
    peer: str
    framer: LineFramer
    last_seen_ns: int
    nick: str = ""
    state: State = MEMBER.initial

    def move(self, event: str) -> State:
        """Follow the table (ImpossibleTransition for a move it does not have: a bug in the room)."""
        self.state = MEMBER.next(self.state, event)
        return self.state


@dataclass
class ChatRoom(Generic[C]):
    """One chat room as a state machine: ``connect`` / ``receive`` / ``disconnect`` / ``expire`` in,
    lists of ``Send`` / ``Broadcast`` / ``Close`` out. A command ``/foo arg`` runs ``cmd_foo(member, arg)``,
    so a subclass adds a command by adding a method. Times are ``now_ns`` (integer nanoseconds of a
    monotonic clock); ``idle_timeout`` is in seconds.
    """

    name: str = "netstudy"
    max_line: int = MAX_LINE
    idle_timeout: float | None = None
    _conns: dict[C, Member[C]] = field(default_factory=dict, init=False, repr=False)
    _by_nick: dict[str, Member[C]] = field(default_factory=dict, init=False, repr=False)   # by nick_key

    # -- queries
    @property
    def online(self) -> int:
        return len(self._by_nick)

    def nicks(self) -> list[str]:
        return sorted((m.nick for m in self._by_nick.values()), key=nick_key)

    def member(self, conn: C) -> Member[C] | None:
        return self._conns.get(conn)

    def is_joined(self, conn: C) -> bool:
        m = self._conns.get(conn)
        return m is not None and m.state is _JOINED

    def joined_conns(self) -> list[C]:
        return [m.conn for m in self._by_nick.values()]

    # -- events in
    def connect(self, conn: C, peer: str = "", now_ns: int = 0) -> list[Action[C]]:
        self._conns[conn] = Member(conn, peer, LineFramer(self.max_line), now_ns)
        return [Send(conn, encode_line(f"*** {self.name} chat: pick a nickname with /nick NAME"))]

    def receive(self, conn: C, data: bytes, now_ns: int = 0) -> list[Action[C]]:
        m = self._conns.get(conn)
        if m is None:
            return []
        m.last_seen_ns = now_ns
        out: list[Action[C]] = []
        for ev in m.framer.feed(data):
            if isinstance(ev, Line):
                self._line(m, ev.text, out)
            elif isinstance(ev, LineTooLong):
                out.append(self._err(m, "line-too-long", f"max {self.max_line} bytes"))
            else:
                out.append(self._err(m, "invalid-utf8", f"bad byte at offset {ev.offset}"))
            if m.state is _CLOSED:      # /quit: ignore whatever followed it
                break
        return out

    def disconnect(self, conn: C, reason: str = "connection closed") -> list[Action[C]]:
        """The connection is gone (EOF, reset, error, slow reader): tell the others if it had joined."""
        m = self._conns.get(conn)
        return [] if m is None else self._leave(m, "close", reason)

    def expire(self, now_ns: int) -> list[Action[C]]:
        """Close every connection silent for longer than ``idle_timeout`` seconds."""
        if self.idle_timeout is None:
            return []
        limit_ns = int(self.idle_timeout * NS_PER_S)
        out: list[Action[C]] = []
        for m in [m for m in self._conns.values() if now_ns - m.last_seen_ns > limit_ns]:
            out.append(self._err(m, "idle-timeout", f"nothing received for {self.idle_timeout:g} s"))
            out += self._leave(m, "idle", "idle timeout")
            out.append(Close(m.conn, "idle timeout"))
        return out

    def shutdown(self) -> list[Action[C]]:
        """The server is stopping: tell every connection, forget them all."""
        line = encode_line("*** server shutting down")
        out: list[Action[C]] = []
        for m in self._conns.values():
            m.move("close")
            out += [Send(m.conn, line), Close(m.conn, "server shutting down")]
        self._conns.clear()
        self._by_nick.clear()
        return out

    def _leave(self, m: Member[C], event: str, reason: str) -> list[Action[C]]:
        """Move ``m`` to CLOSED on ``event`` and forget it; if it had joined, tell the others."""
        joined = m.state is _JOINED
        m.move(event)
        del self._conns[m.conn]
        if not joined:
            return []
        del self._by_nick[nick_key(m.nick)]
        note = f"{m.nick} left ({self.online} online): {reason}"
        return [Broadcast(encode_line("*** " + note)), Log(note)]

    # -- one line from a member
    def _line(self, m: Member[C], text: str, out: list[Action[C]]) -> None:
        if text.startswith("/") and not text.startswith("//"):
            name, _, arg = text[1:].partition(" ")
            handler = getattr(self, "cmd_" + name.lower(), None) if name.isalnum() else None
            if handler is None:
                out.append(self._err(m, "unknown-command", f"/{name} (try /help)"))
            elif m.state is _CONNECTED and name.lower() not in ("nick", "join", "quit", "help"):
                out.append(self._err(m, "not-joined", "pick a nickname first with /nick NAME"))
            else:
                handler(m, arg.strip(), out)
        elif m.state is _CONNECTED:
            out.append(self._err(m, "not-joined", "pick a nickname first with /nick NAME"))
        elif text:
            out.append(Broadcast(encode_line(f"<{m.nick}> {text.removeprefix('/')}"), m.conn))

    def _err(self, m: Member[C], code: str, detail: str) -> Send[C]:
        return Send(m.conn, encode_line(f"ERR {code} {detail}"))

    # -- commands: cmd_NAME(member, argument, actions); the docstring is the /help text
    def cmd_nick(self, m: Member[C], arg: str, out: list[Action[C]]) -> None:
        """/nick NAME: join with this nickname, or change it"""
        problem = nick_problem(arg)
        if problem:
            out.append(self._err(m, "bad-nick", f"{arg!r}: {problem}"))
            return
        holder = self._by_nick.get(nick_key(arg))
        if holder is not None and holder is not m:
            out.append(self._err(m, "nick-in-use", arg))
            return
        joining, old = m.state is _CONNECTED, m.nick
        m.move("nick")
        if not joining:
            del self._by_nick[nick_key(old)]
        self._by_nick[nick_key(arg)] = m
        m.nick = arg
        if joining:
            out.append(Send(m.conn, encode_line(f"*** welcome {arg} ({self.online} online)")))
            out.append(Broadcast(encode_line(f"*** {arg} joined ({self.online} online)"), m.conn))
            out.append(Log(f"{arg} joined from {m.peer} ({self.online} online)"))
        elif old != arg:
            out.append(Broadcast(encode_line(f"*** {old} is now known as {arg}")))
            out.append(Log(f"{old} is now known as {arg}"))

    cmd_join = cmd_nick

    def cmd_list(self, m: Member[C], arg: str, out: list[Action[C]]) -> None:
        """/list: who is online"""
        out.append(Send(m.conn, encode_line(f"*** {self.online} online: {', '.join(self.nicks())}")))

    def cmd_msg(self, m: Member[C], arg: str, out: list[Action[C]]) -> None:
        """/msg NAME text: a private message"""
        to, _, text = arg.partition(" ")
        target = self._by_nick.get(nick_key(to))
        if not to or not text:
            out.append(self._err(m, "usage", "/msg NAME text"))
        elif target is None:
            out.append(self._err(m, "no-such-nick", to))
        else:
            out.append(Send(target.conn, encode_line(f"*{m.nick}* {text}")))

    def cmd_me(self, m: Member[C], arg: str, out: list[Action[C]]) -> None:
        """/me action: say what you do"""
        out.append(Broadcast(encode_line(f"* {m.nick} {arg}"), m.conn))

    def cmd_quit(self, m: Member[C], arg: str, out: list[Action[C]]) -> None:
        """/quit [reason]: leave"""
        out.append(Send(m.conn, encode_line("*** bye")))
        out += self._leave(m, "quit", f"quit: {arg}" if arg else "quit")
        out.append(Close(m.conn, "quit"))

    def cmd_help(self, m: Member[C], arg: str, out: list[Action[C]]) -> None:
        """/help: this list"""
        usages = sorted(getattr(self, a).__doc__ for a in dir(self) if a.startswith("cmd_")
                        and a != "cmd_join" and getattr(self, a).__doc__)
        out.append(Send(m.conn, encode_line("*** commands: " + " | ".join(usages))))


# ---------------------------------------------------------------------------------- client's reading
@dataclass(frozen=True, slots=True)
class ServerLine:
    """One server line, parsed: ``kind`` is message, action, private, notice or error."""
    kind: str
    text: str
    sender: str | None = None
    code: str | None = None       # errors only: nick-in-use, line-too-long, ...

    def __str__(self) -> str:
        return format_server_line(self)


_MESSAGE = re.compile(r"<([^>\s]+)> (.*)\Z", re.S)
_PRIVATE = re.compile(r"\*([^*\s]+)\* (.*)\Z", re.S)
_ACTION = re.compile(r"\* (\S+) (.*)\Z", re.S)


def parse_server_line(text: str) -> ServerLine:
    """Read one line a server sent (the inverse of the formats in this module's docstring)."""
    if text.startswith("*** "):
        return ServerLine("notice", text[4:])
    if text.startswith("ERR "):
        code, _, detail = text[4:].partition(" ")
        return ServerLine("error", detail, code=code)
    for kind, pattern in (("message", _MESSAGE), ("private", _PRIVATE), ("action", _ACTION)):
        if match := pattern.match(text):
            return ServerLine(kind, match.group(2), sender=match.group(1))
    return ServerLine("notice", text)


def format_server_line(ev: ServerLine) -> str:
    """The wire text of a parsed server line."""
    return {"message": f"<{ev.sender}> {ev.text}", "private": f"*{ev.sender}* {ev.text}",
            "action": f"* {ev.sender} {ev.text}", "error": f"ERR {ev.code} {ev.text}"}.get(
        ev.kind, f"*** {ev.text}")
