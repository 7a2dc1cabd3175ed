"""A stub resolver: ask one server a question, check the answer, retry, fall back to TCP.

The protocol state of one query is :class:`Exchange` (sans-I/O): the query bytes with a random ID and
EDNS0 advertised, the back-off schedule of retries, and the checks a reply must pass before it is
believed (RFC 5452 §9.1: the source address, the ID, and the question name, type and class). Three
socket drivers share it, because comparing them is the lesson:

* :func:`query` blocks: one socket, one question at a time;
* :func:`query_many` is non-blocking: ``setblocking(False)`` sockets and one ``selectors`` loop keep
  many questions in flight on one thread;
* :func:`query_async` / :func:`query_many_async` do the same with ``asyncio``
  (:func:`run` runs a coroutine even inside Jupyter, whose kernel already runs a loop).

Each UDP query uses a fresh socket bound to port 0, so the kernel picks a random source port
(Linux draws it from ``net.ipv4.ip_local_port_range``), and a 16-bit ID from ``secrets``. A reply
with TC set is retried over TCP with 2-byte length framing (RFC 1035 §4.2.2, RFC 7766).
"""
from __future__ import annotations

import asyncio
import ipaddress
import os
import secrets
import selectors
import socket
import struct
import threading
import time
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from netstudy.errors import DecodeError, NetstudyError
from netstudy.wire.dns import (
    AAAA,
    A,
    Message,
    Name,
    Question,
    make_opt,
    reverse_name,
    tcp_frame,
    tcp_unframe,
    type_code,
    type_name,
)

__all__ = ["Exchange", "Lookup", "DnsTimeout", "ResolveError", "make_query", "query", "query_many",
           "query_async", "query_many_async", "run", "resolve", "reverse", "reverse_name", "to_frame",
           "DEFAULT_SERVER", "DEFAULT_PORT"]

DEFAULT_SERVER = "127.0.0.1"
DEFAULT_PORT = 53
T = TypeVar("T")


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
        raise ValueError(f"server {host!r} is not an IP address (give it as one, e.g. 127.0.0.1)") from None
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is not in 1..65535")
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
        return [rr.rdata.address for rr in self.response.answer if rr.type in (A.TYPE, AAAA.TYPE)]  # type: ignore

    def to_text(self) -> str:
        """The reply the way dig shows it, with query time and server lines."""
        return (self.response.to_text() + f"\n\n;; Query time: {round(self.rtt_ms)} msec\n"
                f";; SERVER: {self.server_text}({self.server[0]}) ({self.transport})\n"
                f";; MSG SIZE  rcvd: {self.size}")

    def row(self) -> dict[str, Any]:
        q = self.query.question[0]
        return {"name": str(q.name), "type": type_name(q.type), "status": self.status,
                "answers": len(self.response.answer), "transport": self.transport, "tries": self.tries,
                "rtt_ms": self.rtt_ms, "elapsed_ms": self.elapsed_ns / 1e6, "size": self.size}


def to_frame(lookups: Iterable[Lookup | BaseException]):
    """Lookups as a pandas DataFrame, one row each (failures get their error in ``status``)."""
    import pandas as pd
    rows = []
    for item in lookups:
        if isinstance(item, Lookup):
            rows.append(item.row())
        else:
            rows.append({"status": type(item).__name__, "error": str(item)})
    return pd.DataFrame(rows)


@dataclass
class Exchange:
    """One query's protocol state, with no sockets: what to send, whether a reply is acceptable, when
    to retry. The first try waits ``timeout / (2**tries - 1)`` and each retry twice as long, so all
    tries together last ``timeout`` (exponential back-off)."""

    name: Name | str
    qtype: int | str = "A"
    server: tuple[str, int] = (DEFAULT_SERVER, DEFAULT_PORT)
    timeout: float = 3.0
    tries: int = 3
    edns: int | None = 1232
    rd: bool = True
    query: Message = field(init=False)
    wire: bytes = field(init=False)
    sent: int = field(init=False, default=0)
    ignored: int = field(init=False, default=0)
    first_ns: int = field(init=False, default=0)
    last_ns: int = field(init=False, default=0)
    truncated: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.server = _server(*self.server)
        if self.tries < 1:
            raise ValueError("tries must be at least 1")
        self.query = make_query(self.name, self.qtype, self.rd, self.edns)
        self.wire = self.query.to_wire()

    @property
    def family(self) -> int:
        return socket.AF_INET6 if ":" in self.server[0] else socket.AF_INET

    def next_wait(self) -> float | None:
        """Count one more send and return how long to wait for it, or None when the tries are used up."""
        if self.sent >= self.tries:
            return None
        wait = self.timeout * (2 ** self.sent) / (2 ** self.tries - 1)
        self.sent += 1
        self.last_ns = time.perf_counter_ns()
        if self.sent == 1:
            self.first_ns = self.last_ns
        return wait

    def accept(self, data: bytes, source: tuple | None) -> Message | None:
        """The reply if it answers our question from our server (RFC 5452 §9.1), else None (ignored)."""
        if source is not None and (source[0], source[1]) != self.server:
            self.ignored += 1
            return None
        try:
            reply = Message.parse(data, allow_trailing=True)
        except DecodeError:
            self.ignored += 1
            return None
        if reply.id != self.query.id or not reply.qr:
            self.ignored += 1
            return None
        q = self.query.question[0]
        if reply.question:
            r = reply.question[0]
            if len(reply.question) != 1 or r.name != q.name or r.type != q.type or r.cls != q.cls:
                self.ignored += 1
                return None
        elif reply.rcode == 0:      # only an error reply (FORMERR, NOTIMP) may omit the question
            self.ignored += 1
            return None
        return reply

    def tcp_frame(self) -> bytes:
        """The query with its 2-byte length prefix, and a fresh try counted (RFC 1035 §4.2.2)."""
        self.sent += 1
        self.last_ns = time.perf_counter_ns()
        if not self.first_ns:
            self.first_ns = self.last_ns
        return tcp_frame(self.wire)

    def done(self, reply: Message, transport: str, size: int) -> Lookup:
        now = time.perf_counter_ns()
        return Lookup(self.query, reply, self.server, transport, now - self.last_ns, now - self.first_ns,
                      self.sent, size, self.ignored, self.truncated)

    def timeout_error(self) -> DnsTimeout:
        q = self.query.question[0]
        return DnsTimeout(f"no answer from {self.server[0]}#{self.server[1]} for {q.name} {type_name(q.type)} "
                          f"after {self.sent} tr{'y' if self.sent == 1 else 'ies'} in {self.timeout:g} s")


def _tcp_reply(buf: bytearray) -> bytes | None:
    """The first whole length-prefixed message in ``buf``, or None while it is still arriving."""
    messages = tcp_unframe(buf)
    return messages[0] if messages else None


# ----------------------------------------------------------------------------------------------------
# blocking

def query(name: Name | str, qtype: int | str = "A", server: str = DEFAULT_SERVER, port: int = DEFAULT_PORT,
          timeout: float = 3.0, tries: int = 3, tcp: bool = False, edns: int | None = 1232,
          rd: bool = True) -> Lookup:
    """Ask ``server`` one question and wait for the answer (blocking sockets); DnsTimeout if none comes.

    The rcode is reported in the result (``lookup.status``), not raised: NXDOMAIN is an answer.
    """
    ex = Exchange(name, qtype, (server, port), timeout, tries, edns, rd)
    if not tcp:
        reply, size = _udp_blocking(ex)
        if not reply.tc:
            return ex.done(reply, "UDP", size)
        ex.truncated = True
    return _tcp_blocking(ex)


def _udp_blocking(ex: Exchange) -> tuple[Message, int]:
    with socket.socket(ex.family, socket.SOCK_DGRAM) as sock:
        sock.bind(("::" if ex.family == socket.AF_INET6 else "0.0.0.0", 0))
        while (wait := ex.next_wait()) is not None:
            sock.sendto(ex.wire, ex.server)
            deadline = time.monotonic() + wait
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    data, source = sock.recvfrom(65535)
                except TimeoutError:
                    break
                reply = ex.accept(data, source)
                if reply is not None:
                    return reply, len(data)
    raise ex.timeout_error()


def _tcp_blocking(ex: Exchange) -> Lookup:
    frame = ex.tcp_frame()
    deadline = time.monotonic() + ex.timeout
    try:
        with socket.create_connection(ex.server, timeout=ex.timeout) as sock:
            sock.sendall(frame)
            buf = bytearray()
            while (data := _tcp_reply(buf)) is None:
                sock.settimeout(max(0.001, deadline - time.monotonic()))
                chunk = sock.recv(65537)
                if not chunk:
                    raise ConnectionError(f"{ex.server[0]}#{ex.server[1]} closed the TCP connection "
                                          f"before answering")
                buf += chunk
    except TimeoutError:
        raise ex.timeout_error() from None
    reply = ex.accept(data, None)
    if reply is None:
        raise ConnectionError(f"{ex.server[0]}#{ex.server[1]} sent a TCP reply that does not match the query")
    return ex.done(reply, "TCP", len(data))


# ----------------------------------------------------------------------------------------------------
# non-blocking: one selectors loop, many queries in flight

class _Flight:
    """A query in flight in :func:`query_many`: its exchange, its socket and when the current try ends."""

    __slots__ = ("index", "ex", "sock", "deadline", "tcp", "out", "buf")

    def __init__(self, index: int, ex: Exchange) -> None:
        self.index, self.ex = index, ex
        self.sock: socket.socket | None = None
        self.deadline = 0.0
        self.tcp = False
        self.out = b""
        self.buf = bytearray()


def _as_question(item: Any) -> tuple[Any, Any]:
    return (item, "A") if isinstance(item, (str, Name)) else (item[0], item[1])


def query_many(questions: Iterable[Name | str | tuple[Name | str, int | str]], server: str = DEFAULT_SERVER,
               port: int = DEFAULT_PORT, timeout: float = 3.0, tries: int = 3, concurrency: int = 100,
               edns: int | None = 1232, rd: bool = True) -> list[Lookup | Exception]:
    """Ask many questions at once with non-blocking sockets and one ``selectors`` loop (one thread).

    Up to ``concurrency`` queries are in flight, each on its own socket (its own random source port).
    Returns one item per question, in order: a :class:`Lookup`, or the exception for that question.
    """
    exchanges = [Exchange(n, t, (server, port), timeout, tries, edns, rd)
                 for n, t in map(_as_question, questions)]
    results: list[Lookup | Exception | None] = [None] * len(exchanges)
    sel = selectors.DefaultSelector()
    waiting = list(range(len(exchanges) - 1, -1, -1))
    flying: dict[int, _Flight] = {}

    def finish(f: _Flight, outcome: Lookup | Exception) -> None:
        results[f.index] = outcome
        if f.sock is not None:
            sel.unregister(f.sock)
            f.sock.close()
        del flying[f.index]

    def send_udp(f: _Flight) -> None:
        wait = f.ex.next_wait()
        if wait is None:
            finish(f, f.ex.timeout_error())
            return
        try:
            f.sock.sendto(f.ex.wire, f.ex.server)  # type: ignore[union-attr]
        except OSError as exc:
            finish(f, exc)
            return
        f.deadline = time.monotonic() + wait

    def start_tcp(f: _Flight) -> None:
        sel.unregister(f.sock)
        f.sock.close()  # type: ignore[union-attr]
        f.tcp, f.ex.truncated = True, True
        f.sock = socket.socket(f.ex.family, socket.SOCK_STREAM)
        f.sock.setblocking(False)
        f.sock.connect_ex(f.ex.server)
        f.out = f.ex.tcp_frame()
        f.deadline = time.monotonic() + f.ex.timeout
        sel.register(f.sock, selectors.EVENT_WRITE, f)

    try:
        while waiting or flying:
            while waiting and len(flying) < concurrency:
                index = waiting.pop()
                f = _Flight(index, exchanges[index])
                f.sock = socket.socket(f.ex.family, socket.SOCK_DGRAM)
                f.sock.setblocking(False)
                f.sock.bind(("::" if f.ex.family == socket.AF_INET6 else "0.0.0.0", 0))
                sel.register(f.sock, selectors.EVENT_READ, f)
                flying[f.index] = f
                send_udp(f)
            if not flying:
                continue
            timeout_s = max(0.0, min(f.deadline for f in flying.values()) - time.monotonic())
            for key, events in sel.select(timeout_s):
                f = key.data
                if f.index not in flying:
                    continue
                if f.tcp:
                    _tcp_step(f, events, sel, finish)
                    continue
                while True:
                    try:
                        data, source = f.sock.recvfrom(65535)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as exc:
                        finish(f, exc)
                        break
                    reply = f.ex.accept(data, source)
                    if reply is None:
                        continue
                    if reply.tc:
                        start_tcp(f)
                    else:
                        finish(f, f.ex.done(reply, "UDP", len(data)))
                    break
            now = time.monotonic()
            for f in [f for f in flying.values() if f.deadline <= now]:
                if f.tcp:
                    finish(f, f.ex.timeout_error())
                else:
                    send_udp(f)
    finally:
        for f in list(flying.values()):
            finish(f, f.ex.timeout_error())
        sel.close()
    return results  # type: ignore[return-value]


def _tcp_step(f: _Flight, events: int, sel: selectors.BaseSelector, finish) -> None:
    """Advance a TCP fallback: finish connecting and send, then gather the framed reply."""
    sock = f.sock
    assert sock is not None
    try:
        if f.out:
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, f"TCP to {f.ex.server[0]}#{f.ex.server[1]}: {os.strerror(err)}")
            sent = sock.send(f.out)
            f.out = f.out[sent:]
            if not f.out:
                sel.modify(sock, selectors.EVENT_READ, f)
            return
        chunk = sock.recv(65537)
    except (BlockingIOError, InterruptedError):
        return
    except OSError as exc:
        finish(f, exc)
        return
    if not chunk:
        finish(f, ConnectionError(f"{f.ex.server[0]}#{f.ex.server[1]} closed the TCP connection early"))
        return
    f.buf += chunk
    data = _tcp_reply(f.buf)
    if data is not None:
        reply = f.ex.accept(data, None)
        finish(f, f.ex.done(reply, "TCP", len(data)) if reply is not None
               else ConnectionError("TCP reply does not match the query"))


# ----------------------------------------------------------------------------------------------------
# asyncio

class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, ex: Exchange, fut: asyncio.Future) -> None:
        self.ex, self.fut = ex, fut

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        reply = self.ex.accept(data, addr)
        if reply is not None and not self.fut.done():
            self.fut.set_result((reply, len(data)))

    def error_received(self, exc: Exception) -> None:
        if not self.fut.done():
            self.fut.set_exception(exc)


async def query_async(name: Name | str, qtype: int | str = "A", server: str = DEFAULT_SERVER,
                      port: int = DEFAULT_PORT, timeout: float = 3.0, tries: int = 3, tcp: bool = False,
                      edns: int | None = 1232, rd: bool = True) -> Lookup:
    """:func:`query` as a coroutine: the same checks, retries and TCP fallback, awaiting instead of blocking."""
    ex = Exchange(name, qtype, (server, port), timeout, tries, edns, rd)
    loop = asyncio.get_running_loop()
    if not tcp:
        fut: asyncio.Future = loop.create_future()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(ex, fut),
            local_addr=("::" if ex.family == socket.AF_INET6 else "0.0.0.0", 0), family=ex.family)
        try:
            while (wait := ex.next_wait()) is not None:
                transport.sendto(ex.wire, ex.server)
                try:
                    reply, size = await asyncio.wait_for(asyncio.shield(fut), wait)
                except asyncio.TimeoutError:
                    continue
                if not reply.tc:
                    return ex.done(reply, "UDP", size)
                ex.truncated = True
                break
            else:
                raise ex.timeout_error()
        finally:
            transport.close()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(*ex.server), ex.timeout)
        try:
            writer.write(ex.tcp_frame())
            (length,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), ex.timeout))
            data = await asyncio.wait_for(reader.readexactly(length), ex.timeout)
        finally:
            writer.close()
    except asyncio.TimeoutError:
        raise ex.timeout_error() from None
    reply = ex.accept(data, None)
    if reply is None:
        raise ConnectionError(f"{ex.server[0]}#{ex.server[1]} sent a TCP reply that does not match the query")
    return ex.done(reply, "TCP", len(data))


async def query_many_async(questions: Iterable[Name | str | tuple[Name | str, int | str]],
                           server: str = DEFAULT_SERVER, port: int = DEFAULT_PORT, timeout: float = 3.0,
                           tries: int = 3, concurrency: int = 100, edns: int | None = 1232,
                           rd: bool = True) -> list[Lookup | Exception]:
    """Many :func:`query_async` at once, at most ``concurrency`` in flight; results in question order."""
    limit = asyncio.Semaphore(concurrency)

    async def one(n: Any, t: Any) -> Lookup | Exception:
        async with limit:
            try:
                return await query_async(n, t, server, port, timeout, tries, edns=edns, rd=rd)
            except (OSError, NetstudyError) as exc:
                return exc

    return list(await asyncio.gather(*(one(n, t) for n, t in map(_as_question, questions))))


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end from synchronous code, even where a loop already runs (Jupyter):
    then it runs on a fresh loop in a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def worker() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    t = threading.Thread(target=worker, name="netstudy-asyncio")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def resolve(name: Name | str, qtype: int | str = "A", server: str = DEFAULT_SERVER, port: int = DEFAULT_PORT,
            **kw: Any) -> list[str]:
    """The answers as text (``['127.0.0.80']``); ResolveError for NXDOMAIN, SERVFAIL, REFUSED ..."""
    lookup = query(name, qtype, server, port, **kw)
    if lookup.response.full_rcode != 0:
        raise ResolveError(lookup)
    return lookup.answers(qtype)


def reverse(address: str, server: str = DEFAULT_SERVER, port: int = DEFAULT_PORT, **kw: Any) -> Lookup:
    """The PTR lookup for an address (RFC 1035 §3.5, RFC 3596 §2.5)."""
    return query(reverse_name(address), "PTR", server, port, **kw)

