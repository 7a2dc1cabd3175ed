"""One query's protocol state, with no sockets and no clock (sans-I/O): :class:`Exchange`, and the
record of an answered query, :class:`Lookup`.

An exchange holds the query bytes with a random ID and EDNS0 advertised, the back-off schedule of
retries, and the checks a reply must pass before it is believed (RFC 5452 §9.1: the source address, the
ID, and the question name, type and class). A reply with TC set is retried over TCP with 2-byte length
framing (RFC 1035 §4.2.2, RFC 7766). Its states and moves are one table, :data:`TABLE`::

    READY      send udp         -> UDP          READY      send tcp         -> TCP   (asked for TCP)
    UDP        send udp         -> UDP  (retry) TRUNCATED  send tcp         -> TCP
    UDP        reply            -> ANSWERED     TCP        reply            -> ANSWERED
    UDP        truncated reply  -> TRUNCATED    TCP        deadline passed  -> TIMED_OUT
    UDP        tries used up    -> TIMED_OUT

The engine carries the bytes and reads the clock: it asks :meth:`Exchange.send` (or
:meth:`Exchange.send_tcp`) what to send, hands every datagram or TCP message that arrives to
:meth:`Exchange.receive`, and tells :meth:`Exchange.expire` when time has passed, always with
``now_ns`` from ``time.perf_counter_ns()``.
"""
from __future__ import annotations

import enum
import ipaddress
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from netstudy.errors import DecodeError, InputError, NetstudyError, check_number
from netstudy.states import StateTable
from netstudy.wire.dns import Message, Name, Question, make_opt, tcp_frame, type_code, type_name

__all__ = ["Exchange", "State", "TABLE", "Lookup", "DnsTimeout", "ResolveError", "make_query", "to_frame",
           "DEFAULT_SERVER", "DEFAULT_PORT"]

DEFAULT_SERVER = "127.0.0.1"
DEFAULT_PORT = 53
MAX_TIMEOUT = 65535       # dig's longest +timeout (MAXTIMEOUT in dighost.h)
MAX_TRIES = 10            # the tries share the timeout (back-off: the first waits timeout / (2**tries - 1));
                          # with 10 the first already waits 1/1023 of it: more would only send a burst
ADDRESS_TYPES = (type_code("A"), type_code("AAAA"))


class DnsTimeout(NetstudyError, TimeoutError):
    """No acceptable answer arrived before the last try's timeout."""


class ResolveError(NetstudyError):
    """The server answered, with an rcode other than NOERROR (NXDOMAIN, SERVFAIL, REFUSED...)."""

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup
        super().__init__(f"{lookup.question}: {lookup.status} from {lookup.server_text}")


def _server(host: str, port: int) -> tuple[str, int]:
    """Validate the server at the boundary: an address (or 'localhost'), never a name to look up."""
    if host == "localhost":
        host = DEFAULT_SERVER
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise InputError(f"server {host!r} is not an IP address (give it as one, e.g. 127.0.0.1)") from None
    check_number("port", port, 1, 65535, whole=True)
    return host, port


def make_query(name: Name | str, qtype: int | str = "A", rd: bool = True, edns: int | None = 1232,
               ident: int | None = None) -> Message:
    """A query message: random ID (``secrets``), RD set, EDNS0 with a payload size unless ``edns=None``."""
    q = Message(id=secrets.randbits(16) if ident is None else ident, rd=rd,
                question=[Question(Name(name), type_code(qtype))])
    if edns is not None:
        q.additional.append(make_opt(edns))
    return q


@dataclass(slots=True)
class Lookup:
    """One answered query: the reply, how it came (UDP or TCP), how long it took and how many tries."""

    query: Message
    response: Message
    server: tuple[str, int]
    transport: str            # "UDP" or "TCP"
    rtt_ns: int               # from the last send to the reply
    elapsed_ns: int           # from the first send to the reply (retries and TCP fallback included)
    tries: int                # datagrams sent (a TCP fallback counts one more)
    size: int                 # bytes of the reply message
    ignored: int = 0          # replies thrown away: wrong source, ID or question
    truncated_first: bool = False   # the UDP reply had TC set and TCP was used

    @property
    def question(self) -> str:
        q = self.query.question[0]
        return f"{q.name} {type_name(q.type)}"

    @property
    def status(self) -> str:
        return self.response.status

    @property
    def rtt_ms(self) -> float:
        return self.rtt_ns / 1e6

    @property
    def server_text(self) -> str:
        return f"{self.server[0]}#{self.server[1]}"

    def answers(self, rtype: int | str | None = None) -> list[str]:
        """The answer section's record data as text, optionally only one type (``'A'``)."""
        want = None if rtype is None else type_code(rtype)
        return [rr.rdata.to_text() for rr in self.response.answer if want is None or rr.type == want]

    def addresses(self) -> list[str]:
        """The A and AAAA records' addresses, in answer order."""
        return [rr.rdata.to_text() for rr in self.response.answer if rr.type in ADDRESS_TYPES]

    def row(self) -> dict[str, Any]:
        q = self.query.question[0]
        return {"name": str(q.name), "type": type_name(q.type), "status": self.status,
                "answers": len(self.response.answer), "transport": self.transport, "tries": self.tries,
                "rtt_ms": self.rtt_ms, "elapsed_ms": self.elapsed_ns / 1e6, "size": self.size}


def to_frame(lookups: Iterable[Lookup | BaseException]) -> Any:
    """Lookups as a pandas DataFrame, one row each (failures get their error in ``status``)."""
    import pandas as pd
    rows = []
    for item in lookups:
        if isinstance(item, Lookup):
            rows.append(item.row())
        else:
            rows.append({"status": type(item).__name__, "error": str(item)})
    return pd.DataFrame(rows)


class State(enum.Enum):
    """Where one query stands."""

    READY = "nothing sent yet"
    UDP = "a datagram sent, waiting for its reply (or for the wait to end)"
    TRUNCATED = "the UDP reply had TC set: the answer must be asked again over TCP"
    TCP = "the framed query sent on a TCP connection, waiting for the framed reply"
    ANSWERED = "an acceptable reply arrived"
    TIMED_OUT = "no acceptable reply before the last try's wait ended"


TABLE: StateTable[State] = StateTable(State.READY, {
    (State.READY, "send udp"): State.UDP,
    (State.UDP, "send udp"): State.UDP,                  # a retry: the previous try's wait ended
    (State.UDP, "reply"): State.ANSWERED,
    (State.UDP, "truncated reply"): State.TRUNCATED,
    (State.UDP, "tries used up"): State.TIMED_OUT,
    (State.READY, "send tcp"): State.TCP,                # asked for TCP from the start (dig +tcp)
    (State.TRUNCATED, "send tcp"): State.TCP,
    (State.TCP, "reply"): State.ANSWERED,
    (State.TCP, "deadline passed"): State.TIMED_OUT,
})


@dataclass
class Exchange:
    """One query's protocol state, with no sockets and no clock: what to send, whether a reply is
    acceptable, when to retry. The first try waits ``timeout / (2**tries - 1)`` and each retry twice as
    long, so all tries together last ``timeout`` (exponential back-off); a TCP try gets the whole
    ``timeout``."""

    name: Name | str
    qtype: int | str = "A"
    server: tuple[str, int] = (DEFAULT_SERVER, DEFAULT_PORT)
    timeout: float = 3.0
    tries: int = 3
    edns: int | None = 1232
    rd: bool = True
    query: Message = field(init=False)
    wire: bytes = field(init=False)
    state: State = field(init=False, default=TABLE.initial)
    history: list[State] = field(init=False)   # every state it has been in, in order
    sent: int = field(init=False, default=0)   # tries: datagrams sent, and one for a TCP query
    ignored: int = field(init=False, default=0)
    first_ns: int = field(init=False, default=0)      # when the first try was sent
    last_ns: int = field(init=False, default=0)       # when the latest try was sent
    wait_ns: int = field(init=False, default=0)       # how long the latest try waits for its reply
    deadline_ns: int = field(init=False, default=0)   # last_ns + wait_ns: when expire() ends that try
    answered_ns: int = field(init=False, default=0)
    reply: Message | None = field(init=False, default=None)
    size: int = field(init=False, default=0)          # bytes of the accepted reply

    def __post_init__(self) -> None:
        self.server = _server(*self.server)
        check_number("tries", self.tries, 1, MAX_TRIES, whole=True)
        check_number("timeout", self.timeout, 0, MAX_TIMEOUT, above=True)
        self.query = make_query(self.name, self.qtype, self.rd, self.edns)
        self.wire = self.query.to_wire()
        self.history = [self.state]

    @property
    def timeout_ns(self) -> int:
        return round(self.timeout * 1e9)

    def _move(self, event: str) -> None:
        self.state = TABLE.next(self.state, event)
        self.history.append(self.state)

    def _sent(self, now_ns: int, wait_ns: int) -> None:
        self.sent += 1
        self.last_ns = now_ns
        if self.sent == 1:
            self.first_ns = now_ns
        self.wait_ns = wait_ns
        self.deadline_ns = now_ns + wait_ns

    # -- sending -------------------------------------------------------------------------------------

    def send(self, now_ns: int) -> bytes | None:
        """The datagram to send now for the next UDP try, its wait in ``wait_ns`` (until ``deadline_ns``);
        None when the tries are used up (the exchange has TIMED_OUT)."""
        if self.sent >= self.tries:
            self._move("tries used up")
            return None
        wait = self.timeout_ns * 2 ** self.sent // (2 ** self.tries - 1)
        self._move("send udp")
        self._sent(now_ns, wait)
        return self.wire

    def send_tcp(self, now_ns: int) -> bytes:
        """The query with its 2-byte length prefix (RFC 1035 §4.2.2), counted as one more try, which may
        take the whole ``timeout``: after a truncated UDP reply, or from the start."""
        self._move("send tcp")
        self._sent(now_ns, self.timeout_ns)
        return tcp_frame(self.wire)

    # -- what arrives, and time passing ----------------------------------------------------------------

    def receive(self, data: bytes, source: tuple | None, now_ns: int) -> Message | None:
        """The reply if it answers our question from our server (RFC 5452 §9.1), else None: counted in
        ``ignored``, as is anything arriving when no reply is awaited. ``source`` is the datagram's sender
        (None for a TCP message: the connection is to the server). A UDP reply with TC set moves the
        exchange to TRUNCATED (``send_tcp`` next); any other accepted reply to ANSWERED."""
        reply = self._check(data, source) if self.state in (State.UDP, State.TCP) else None
        if reply is None:
            self.ignored += 1
            return None
        if self.state is State.UDP and reply.tc:
            self._move("truncated reply")
            return reply
        self._move("reply")
        self.reply, self.size, self.answered_ns = reply, len(data), now_ns
        return reply

    def _check(self, data: bytes, source: tuple | None) -> Message | None:
        if source is not None and (source[0], source[1]) != self.server:
            return None
        try:
            reply = Message.parse(data, allow_trailing=True)
        except DecodeError:
            return None
        if reply.id != self.query.id or not reply.qr:
            return None
        q = self.query.question[0]
        if reply.question:
            r = reply.question[0]
            if len(reply.question) != 1 or r.name != q.name or r.type != q.type or r.cls != q.cls:
                return None
        elif reply.rcode == 0:      # only an error reply (FORMERR, NOTIMP) may omit the question
            return None
        return reply

    def expire(self, now_ns: int) -> bool:
        """Time has passed: True when the exchange is over without an answer (TIMED_OUT), because the
        TCP try's deadline or the last UDP try's wait has passed. While UDP tries remain, nothing changes:
        ask :meth:`send` for the next one."""
        if now_ns >= self.deadline_ns:
            if self.state is State.TCP:
                self._move("deadline passed")
            elif self.state is State.UDP and self.sent >= self.tries:
                self._move("tries used up")
        return self.state is State.TIMED_OUT

    # -- results -----------------------------------------------------------------------------------------

    def lookup(self) -> Lookup:
        """The answered query as a record (once ANSWERED)."""
        if self.state is not State.ANSWERED:
            raise RuntimeError(f"no lookup: the exchange is {self.state.name}, not ANSWERED")
        assert self.reply is not None
        return Lookup(self.query, self.reply, self.server, "TCP" if State.TCP in self.history else "UDP",
                      self.answered_ns - self.last_ns, self.answered_ns - self.first_ns, self.sent, self.size,
                      self.ignored, State.TRUNCATED in self.history)

    def timeout_error(self) -> DnsTimeout:
        q = self.query.question[0]
        return DnsTimeout(f"no answer from {self.server[0]}#{self.server[1]} for {q.name} {type_name(q.type)} "
                          f"after {self.sent} tr{'y' if self.sent == 1 else 'ies'} in {self.timeout:g} s")
