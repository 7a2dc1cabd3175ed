"""A stub resolver: the sockets and the clock around :class:`~netstudy.dns.core.Exchange`.

The exchange (sans-I/O) says what to send, which reply to believe and when a try is over; three socket
drivers carry its bytes, because comparing them is the lesson:

* :func:`query` blocks: one socket, one question at a time;
* :func:`query_many` is non-blocking: ``setblocking(False)`` sockets and one ``selectors`` loop keep
  many questions in flight on one thread;
* :func:`query_async` / :func:`query_many_async` do the same with ``asyncio``
  (:func:`run` runs a coroutine even inside Jupyter, whose kernel already runs a loop).

Each UDP query uses a fresh socket bound to port 0, so the kernel picks a random source port
(Linux draws it from ``net.ipv4.ip_local_port_range``). A reply with TC set is retried over TCP.
Every ``now_ns`` handed to the exchange is ``time.perf_counter_ns()``.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import selectors
import socket
import struct
import threading
import time
from collections.abc import Coroutine, Iterable, Iterator
from typing import Any, TypeVar

from netstudy.dns.core import DEFAULT_PORT, DEFAULT_SERVER, Exchange, Lookup, ResolveError, State
from netstudy.errors import NetstudyError
from netstudy.wire.dns import Name, reverse_name, tcp_unframe

__all__ = ["query", "query_many", "query_async", "query_many_async", "run", "resolve", "reverse"]

T = TypeVar("T")


def _family(ex: Exchange) -> int:
    return socket.AF_INET6 if ":" in ex.server[0] else socket.AF_INET


def _any_address(ex: Exchange) -> str:
    return "::" if ":" in ex.server[0] else "0.0.0.0"


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
        _udp_blocking(ex)
        if ex.state is State.ANSWERED:
            return ex.lookup()
    return _tcp_blocking(ex)            # asked for TCP, or the UDP reply was TRUNCATED


def _udp_blocking(ex: Exchange) -> None:
    """Send the tries the exchange asks for until it accepts a reply; DnsTimeout when they are used up."""
    with socket.socket(_family(ex), socket.SOCK_DGRAM) as sock:
        sock.bind((_any_address(ex), 0))
        while (datagram := ex.send(time.perf_counter_ns())) is not None:
            sock.sendto(datagram, ex.server)
            while (left := ex.deadline_ns - time.perf_counter_ns()) > 0:
                sock.settimeout(left / 1e9)
                try:
                    data, source = sock.recvfrom(65535)
                except TimeoutError:
                    break
                if ex.receive(data, source, time.perf_counter_ns()) is not None:
                    return
    raise ex.timeout_error()


def _naming_server(exc: OSError, ex: Exchange) -> OSError:
    """A socket error that names the server, as dig does (``127.0.0.1#5399: connection refused``), not
    ``[Errno 111] Connection refused``; the same class and errno. Errors already naming it pass as they are."""
    where = f"{ex.server[0]}#{ex.server[1]}"
    if exc.strerror is None and where in str(exc):
        return exc
    reason = (exc.strerror or str(exc)).lower()
    named = type(exc)(f"{where}: {reason}")
    named.errno = exc.errno
    return named


@contextlib.contextmanager
def _tcp_errors(ex: Exchange) -> Iterator[None]:
    """How a TCP exchange ends badly, for the blocking and the asyncio client alike: the wait ran out (the
    exchange times out), or the socket failed (the error names the server)."""
    try:
        yield
    except (TimeoutError, asyncio.TimeoutError):
        ex.expire(time.perf_counter_ns())
        raise ex.timeout_error() from None
    except OSError as exc:
        raise _naming_server(exc, ex) from None


def _tcp_lookup(ex: Exchange, data: bytes) -> Lookup:
    """The lookup a whole TCP reply completes, if it answers our question (``Exchange.receive``)."""
    if ex.receive(data, None, time.perf_counter_ns()) is None:
        raise ConnectionError(f"{ex.server[0]}#{ex.server[1]} sent a TCP reply that does not match the query")
    return ex.lookup()


def _tcp_blocking(ex: Exchange) -> Lookup:
    frame = ex.send_tcp(time.perf_counter_ns())
    with _tcp_errors(ex), socket.create_connection(ex.server, timeout=ex.timeout) as sock:
        sock.sendall(frame)
        buf = bytearray()
        while (data := _tcp_reply(buf)) is None:
            sock.settimeout(max(0.001, (ex.deadline_ns - time.perf_counter_ns()) / 1e9))
            chunk = sock.recv(65537)
            if not chunk:
                raise ConnectionError(f"{ex.server[0]}#{ex.server[1]} closed the TCP connection "
                                      f"before answering")
            buf += chunk
    return _tcp_lookup(ex, data)


# ----------------------------------------------------------------------------------------------------
# non-blocking: one selectors loop, many queries in flight

class _Flight:
    """A query in flight in :func:`query_many`: its exchange, its socket, the TCP bytes to send and received."""

    __slots__ = ("index", "ex", "sock", "out", "buf")

    def __init__(self, index: int, ex: Exchange, sock: socket.socket) -> None:
        self.index, self.ex, self.sock = index, ex, sock
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
        sel.unregister(f.sock)
        f.sock.close()
        del flying[f.index]

    def send_udp(f: _Flight) -> None:
        datagram = f.ex.send(time.perf_counter_ns())
        if datagram is None:
            finish(f, f.ex.timeout_error())
            return
        try:
            f.sock.sendto(datagram, f.ex.server)
        except OSError as exc:
            finish(f, exc)

    def start_tcp(f: _Flight) -> None:
        sel.unregister(f.sock)
        f.sock.close()
        f.sock = socket.socket(_family(f.ex), socket.SOCK_STREAM)
        f.sock.setblocking(False)
        f.sock.connect_ex(f.ex.server)
        f.out = f.ex.send_tcp(time.perf_counter_ns())
        sel.register(f.sock, selectors.EVENT_WRITE, f)

    try:
        while waiting or flying:
            while waiting and len(flying) < concurrency:
                index = waiting.pop()
                ex = exchanges[index]
                f = _Flight(index, ex, socket.socket(_family(ex), socket.SOCK_DGRAM))
                f.sock.setblocking(False)
                f.sock.bind((_any_address(ex), 0))
                sel.register(f.sock, selectors.EVENT_READ, f)
                flying[f.index] = f
                send_udp(f)
            if not flying:
                continue
            next_ns = min(f.ex.deadline_ns for f in flying.values())
            timeout_s = max(0.0, (next_ns - time.perf_counter_ns()) / 1e9)
            for key, events in sel.select(timeout_s):
                f = key.data
                if f.index not in flying:
                    continue
                if f.ex.state is State.TCP:
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
                    if f.ex.receive(data, source, time.perf_counter_ns()) is None:
                        continue
                    if f.ex.state is State.TRUNCATED:
                        start_tcp(f)
                    else:
                        finish(f, f.ex.lookup())
                    break
            now = time.perf_counter_ns()
            for f in [f for f in flying.values() if f.ex.deadline_ns <= now]:
                if f.ex.expire(now):
                    finish(f, f.ex.timeout_error())
                else:
                    send_udp(f)                 # that try's wait is over: the next one
    finally:
        for f in list(flying.values()):
            finish(f, f.ex.timeout_error())
        sel.close()
    return results  # type: ignore[return-value]


def _tcp_step(f: _Flight, events: int, sel: selectors.BaseSelector, finish) -> None:
    """Advance a TCP fallback: finish connecting and send, then gather the framed reply."""
    sock = f.sock
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
        reply = f.ex.receive(data, None, time.perf_counter_ns())
        finish(f, f.ex.lookup() if reply is not None else ConnectionError("TCP reply does not match the query"))


# ----------------------------------------------------------------------------------------------------
# asyncio

class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, ex: Exchange, fut: asyncio.Future) -> None:
        self.ex, self.fut = ex, fut

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        reply = self.ex.receive(data, addr, time.perf_counter_ns())
        if reply is not None and not self.fut.done():
            self.fut.set_result(reply)

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
            local_addr=(_any_address(ex), 0), family=_family(ex))
        try:
            while (datagram := ex.send(time.perf_counter_ns())) is not None:
                transport.sendto(datagram, ex.server)
                try:
                    await asyncio.wait_for(asyncio.shield(fut), ex.wait_ns / 1e9)
                except asyncio.TimeoutError:
                    continue
                break
            else:
                raise ex.timeout_error()
        finally:
            transport.close()
        if ex.state is State.ANSWERED:
            return ex.lookup()
    with _tcp_errors(ex):               # asked for TCP, or the UDP reply was TRUNCATED
        reader, writer = await asyncio.wait_for(asyncio.open_connection(*ex.server), ex.timeout)
        try:
            writer.write(ex.send_tcp(time.perf_counter_ns()))
            (length,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), ex.timeout))
            data = await asyncio.wait_for(reader.readexactly(length), ex.timeout)
        finally:
            writer.close()
    return _tcp_lookup(ex, data)


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

