"""Two chat servers around one ``ChatRoom``: a thread per client, and one event loop for thousands.

``ThreadedChatServer`` is the seed's design made correct: a lock around the room, a framer per
connection, a send lock per socket (two threads' ``sendall`` must not interleave), a leave on every
way out. ``ChatServer`` is one ``selectors`` loop (epoll on Linux) on one thread: it reads whatever is
ready, joins every broadcast line of a round into one buffer, and hands each client that buffer
(minus its own lines) as ``memoryview`` slices to one ``sendmsg``: one encoding and one system call
per client per round, however many lines. Each client's queue is bounded; a client that stops
reading is disconnected with the reason logged. Both are objects you ``start()``/``stop()`` or use in
a ``with`` block; the loop runs on a worker thread, so they work inside a Jupyter kernel too.
"""
from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import resource
import selectors
import socket
import struct
import threading
import time
from typing import Any, Generic, TypeVar

from netstudy.chat.core import DEFAULT_HOST, NS_PER_S, Action, Broadcast, C, ChatRoom, Close, Send, State
from netstudy.errors import check_number

log = logging.getLogger("netstudy.chat")
log.addHandler(logging.NullHandler())     # a library logs; the application (the CLI) decides where to

IOV_MAX = 1024                 # most buffers one sendmsg() takes (writev(2))


def raise_fd_limit(wanted: int) -> int:
    """Lift this process's soft RLIMIT_NOFILE towards ``wanted`` (never past the hard limit); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


MAX_TIMEOUT = 2_147_483.0      # seconds; what a socket timeout (SO_RCVTIMEO, SO_SNDTIMEO) holds in ms as an int


def seconds(name: str, value: float) -> float:
    """``value`` if it is a finite number of seconds above zero; InputError otherwise: 0, a negative
    number, NaN or infinity would disconnect every client at once, or never arm the timer."""
    check_number(name, value, 0, MAX_TIMEOUT, above=True)
    return float(value)


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


_S = TypeVar("_S", bound="_Server[Any]")


class _Server(Generic[C]):
    """What both servers share: the listening socket, the room, the worker thread, start/stop/with."""

    def __init__(self, host: str = DEFAULT_HOST, port: int = 0, room: ChatRoom[C] | None = None,
                 backlog: int = 4096) -> None:
        check_number("port", port, 0, 65535, whole=True)          # 0: the kernel picks a free one
        self.room: ChatRoom[C] = room if room is not None else ChatRoom()
        self._bind = (host, port)
        self._backlog = backlog
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.accepted = 0                     # connections accepted so far
        self.disconnects: collections.Counter[str] = collections.Counter()   # reason -> count

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) actually bound."""
        if self._listener is None:
            raise RuntimeError("the server is not started")
        host, port = self._listener.getsockname()[:2]
        return host, port

    def start(self: _S) -> _S:
        raise_fd_limit(16384)
        family = socket.AF_INET6 if ":" in self._bind[0] else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(self._bind)
        except OSError as exc:
            listener.close()
            raise type(exc)(f"cannot listen on {self._bind[0]}:{self._bind[1]}: {exc.strerror}") from None
        listener.listen(self._backlog)
        self._listener = listener
        self._thread = threading.Thread(target=self._serve, name=type(self).__name__, daemon=True)
        self._thread.start()
        log.info("%s listening on %s:%d", type(self).__name__, *self.address)
        return self

    def statistics(self) -> str:
        """One line for the operator: connections accepted so far and why they ended, most common
        reason first (``5 connections accepted; ended: quit 3, idle timeout 1``)."""
        reasons = ", ".join(f"{reason} {count}" for reason, count in self.disconnects.most_common())
        accepted = f"{self.accepted} connection{'s' * (self.accepted != 1)} accepted"
        return f"{accepted}; ended: {reasons}" if reasons else accepted

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Block until Ctrl-C (the CLI's way to run a server), then stop cleanly."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                time.sleep(0.2)          # not join(): a join interrupted by Ctrl-C can leave it confused
        finally:
            self.stop()

    def _serve(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        state = f"{self.address[0]}:{self.address[1]}" if self._listener else "stopped"
        return f"<{type(self).__name__} {state}, {self.room.online} online>"

    def _nick(self, conn: C) -> str:
        """A connection's nickname for the operator's eyes, "?" before it has joined."""
        m = self.room.member(conn)
        return m.nick if m is not None and m.state is State.JOINED else "?"


# ------------------------------------------------------------------------------------ thread per client
class _ThreadedConn:
    __slots__ = ("sock", "peer", "send_lock", "closed", "failed")

    def __init__(self, sock: socket.socket, peer: str) -> None:
        self.sock, self.peer, self.send_lock = sock, peer, threading.Lock()
        self.closed = False              # set (under send_lock) when its own thread closed the socket
        self.failed = ""                 # why a send to it failed (logged once, then its leave reason)


# What one batch of actions means for each connection: its lines in order; None = shut it down after.
_Todo = dict[_ThreadedConn, list[bytes | None]]


class ThreadedChatServer(_Server[_ThreadedConn]):
    """One thread per client, like the seed, but correct.

    The room is shared by every thread, so every call into it holds ``self._lock``; the lock is not
    held while sending (a slow socket must not stall the room). A send blocked longer than
    ``send_timeout`` (SO_SNDTIMEO, socket(7)) disconnects that client. ``idle_timeout`` (SO_RCVTIMEO)
    disconnects a silent one.
    """

    def __init__(self, host: str = DEFAULT_HOST, port: int = 0, room: ChatRoom[_ThreadedConn] | None = None, *,
                 send_timeout: float = 5.0, idle_timeout: float | None = 600.0) -> None:
        super().__init__(host, port, room)
        self.send_timeout = seconds("send_timeout", send_timeout)
        self.idle_timeout = None if idle_timeout is None else seconds("idle_timeout", idle_timeout)
        self._lock = threading.Lock()
        self._conns: set[_ThreadedConn] = set()
        self._handlers: list[threading.Thread] = []
        self._stopping = False

    def _serve(self) -> None:
        assert self._listener is not None
        while not self._stopping:
            try:
                sock, addr = self._listener.accept()
            except OSError:              # the listener was closed by stop()
                break
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(self.send_timeout))
            if self.idle_timeout:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(self.idle_timeout))
            conn = _ThreadedConn(sock, f"{addr[0]}:{addr[1]}")
            with self._lock:
                if self._stopping:
                    sock.close()
                    break
                self.accepted += 1
                self._conns.add(conn)
                todo = self._resolve(self.room.connect(conn, conn.peer, time.monotonic_ns()))
            thread = threading.Thread(target=self._handle, args=(conn, todo), name=f"client {conn.peer}",
                                      daemon=True)
            self._handlers = [t for t in self._handlers if t.is_alive()] + [thread]
            thread.start()

    def _handle(self, conn: _ThreadedConn, todo: _Todo) -> None:
        """The client's own thread: read, frame, ask the room, deliver, until the connection ends."""
        reason = "connection closed"
        try:
            self._deliver(todo)
            while data := conn.sock.recv(65536):
                with self._lock:
                    todo = self._resolve(self.room.receive(conn, data, time.monotonic_ns()))
                self._deliver(todo)
        except BlockingIOError:          # SO_RCVTIMEO expired
            reason = "idle timeout"
        except OSError as exc:
            reason = _reason(exc)
        with self._lock:
            if self._stopping:
                reason = "server shutting down"
            elif conn.failed:
                reason = conn.failed
            self._conns.discard(conn)
            todo = self._resolve(self.room.disconnect(conn, reason))
            self.disconnects[reason] += 1
        with conn.send_lock:
            conn.closed = True
            conn.sock.close()
        self._deliver(todo)

    def _resolve(self, actions: list[Action[_ThreadedConn]]) -> _Todo:
        """Group the actions' lines per connection (called with the lock held: it reads membership)."""
        todo: _Todo = {}
        for a in actions:
            if isinstance(a, Send):
                todo.setdefault(a.to, []).append(a.line)
            elif isinstance(a, Broadcast):
                for c in self.room.joined_conns():
                    if c is not a.exclude:
                        todo.setdefault(c, []).append(a.line)
            elif isinstance(a, Close):
                todo.setdefault(a.conn, []).append(None)
            else:
                log.info(a.message)
        return todo

    def _deliver(self, todo: _Todo) -> None:
        """Send each connection its lines in one sendall (outside the room lock, under its send lock)."""
        for conn, parts in todo.items():
            with conn.send_lock:
                if conn.closed or conn.failed:
                    continue
                try:
                    data = b"".join(p for p in parts if p is not None)
                    if data:
                        conn.sock.sendall(data)
                    if parts[-1] is None:
                        conn.sock.shutdown(socket.SHUT_RDWR)
                except OSError as exc:       # its own thread sees the shutdown and says goodbye
                    if not conn.failed:
                        if isinstance(exc, BlockingIOError):      # SO_SNDTIMEO: it stopped reading
                            conn.failed = f"send blocked for {self.send_timeout:g} s (not reading)"
                            log.warning("disconnecting %s: %s", conn.peer, conn.failed)
                        else:
                            conn.failed = f"send failed: {_reason(exc)}"
                            log.info("disconnecting %s: %s", conn.peer, conn.failed)
                    _quiet_shutdown(conn.sock)

    def stop(self) -> None:
        """Tell every client, shut every socket down, wait for every thread."""
        if self._listener is None:
            return
        with self._lock:
            self._stopping = True
            todo = self._resolve(self.room.shutdown())
        self._deliver(todo)
        _quiet_shutdown(self._listener)
        self._listener.close()
        with self._lock:
            for conn in self._conns:
                _quiet_shutdown(conn.sock)
        for thread in [self._thread, *self._handlers]:
            if thread is not None:
                thread.join(5)
        self._listener = None
        log.info("ThreadedChatServer stopped: %s", self.statistics())


def _timeval(seconds: float) -> bytes:
    return struct.pack("ll", int(seconds), int(seconds % 1 * 1e6))


def _quiet_shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


# ------------------------------------------------------------------------------------------ event loop
class _Conn:
    """One client of the event loop: its socket and its outgoing queue of buffers."""
    __slots__ = ("sock", "peer", "out", "queued", "closing", "writing", "dirty")

    def __init__(self, sock: socket.socket, peer: str) -> None:
        self.sock, self.peer = sock, peer
        self.out: collections.deque[memoryview | bytes | bytearray] = collections.deque()
        self.queued = 0                    # bytes waiting in ``out``
        self.closing: str | None = None    # reason, once the room asked to close it
        self.writing = False               # registered for EVENT_WRITE
        self.dirty = False                 # has new data to try sending this round


class ChatServer(_Server[_Conn]):
    """One event loop (``selectors``, epoll on Linux) serving every client from one thread.

    Per round: wait for ready sockets, read each once, feed the room; broadcast lines are collected in
    a batch that becomes one ``bytes`` (encoded once for everybody), and each client gets it as at
    most a few ``memoryview`` slices (its own lines cut out) sent with one ``sendmsg``. A client with
    more than ``max_queue`` bytes waiting is disconnected (it is not reading); one silent for
    ``idle_timeout`` seconds is told so and disconnected. ``sndbuf`` fixes each client socket's kernel
    send buffer (SO_SNDBUF, socket(7)); by default the kernel grows it as it sees fit (up to
    net.ipv4.tcp_wmem's maximum, 4 MiB here), so a non-reader holds that much before the queue starts.
    """

    def __init__(self, host: str = DEFAULT_HOST, port: int = 0, room: ChatRoom[_Conn] | None = None, *,
                 max_queue: int = 1 << 20, idle_timeout: float | None = 600.0, sndbuf: int | None = None,
                 shutdown_grace: float = 1.0) -> None:
        super().__init__(host, port, room)
        self.room.idle_timeout = None if idle_timeout is None else seconds("idle_timeout", idle_timeout)
        self.max_queue = max_queue
        self.sndbuf = sndbuf
        self.shutdown_grace = shutdown_grace
        self._conns: set[_Conn] = set()
        self._batch: list[bytes] = []
        self._batch_from: list[_Conn | None] = []
        self._dirty: list[_Conn] = []
        self._doomed: list[tuple[_Conn, str]] = []
        self._stopping = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._sel = selectors.DefaultSelector()

    # -- the loop
    def _serve(self) -> None:
        assert self._listener is not None
        self._listener.setblocking(False)
        self._wake_r.setblocking(False)
        self._sel.register(self._listener, selectors.EVENT_READ, None)
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        next_expiry = time.monotonic_ns() + NS_PER_S
        while not self._stopping:
            ready = self._sel.select(timeout=1.0)
            now_ns = time.monotonic_ns()
            for key, mask in ready:
                c = key.data
                if c is None:
                    self._accept(now_ns)
                elif c == "wake":
                    self._wake_r.recv(4096)
                elif c.sock.fileno() >= 0:       # not dropped earlier in this round
                    if mask & selectors.EVENT_READ and not c.closing:
                        self._read(c, now_ns)
                    if mask & selectors.EVENT_WRITE and c.sock.fileno() >= 0:
                        self._write(c)
            if now_ns >= next_expiry:
                self._apply(self.room.expire(now_ns))
                next_expiry = now_ns + NS_PER_S
            self._end_round()
        self._shutdown()

    def _end_round(self) -> None:
        """Send the round's broadcasts, drop clients over their limit, send what else is queued."""
        self._flush_batch(send_now=True)
        while self._doomed:
            doomed, self._doomed = self._doomed, []
            for c, why in doomed:
                self._drop(c, why)
            self._flush_batch(send_now=True)
        dirty, self._dirty = self._dirty, []
        for c in dirty:
            c.dirty = False
            if c.sock.fileno() >= 0 and not c.writing:
                self._write(c)

    def _accept(self, now_ns: int) -> None:
        assert self._listener is not None
        for _ in range(512):
            try:
                sock, addr = self._listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:          # EMFILE and friends: log, keep serving who is here
                log.warning("accept failed: %s", _reason(exc))
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.sndbuf:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.sndbuf)
            c = _Conn(sock, f"{addr[0]}:{addr[1]}")
            self._conns.add(c)
            self.accepted += 1
            self._sel.register(sock, selectors.EVENT_READ, c)
            self._apply(self.room.connect(c, c.peer, now_ns))

    def _read(self, c: _Conn, now_ns: int) -> None:
        try:
            data = c.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as exc:
            self._drop(c, _reason(exc))
            return
        if not data:
            self._drop(c, "connection closed")
            return
        if not self.room.is_joined(c):
            self._flush_batch()          # a newcomer must not receive lines sent before it joined
        self._apply(self.room.receive(c, data, now_ns))

    def _apply(self, actions: list[Action[_Conn]]) -> None:
        for a in actions:
            if isinstance(a, Broadcast):
                self._batch.append(a.line)
                self._batch_from.append(a.exclude)
            elif isinstance(a, Send):
                self._flush_batch()      # keeps each sender's lines in order for every recipient
                self._enqueue(a.to, a.line, len(a.line))
            elif isinstance(a, Close):
                self._flush_batch()
                a.conn.closing = a.reason
                self._enqueue(a.conn, b"", 0)
            else:
                log.info(a.message)

    def _flush_batch(self, send_now: bool = False) -> None:
        """One bytes object for all of the pending broadcast lines; each member gets views of it.

        With ``send_now`` (the end of a round) a member with nothing queued is sent its views at once,
        and only what the kernel does not take is queued: the common case touches no queue at all.
        """
        if not self._batch:
            return
        lines, senders = self._batch, self._batch_from
        self._batch, self._batch_from = [], []
        blob = memoryview(b"".join(lines))
        size = len(blob)
        own: dict[_Conn, list[tuple[int, int]]] = {}     # sender -> its byte ranges in the blob
        pos = 0
        for line, sender in zip(lines, senders, strict=True):
            end = pos + len(line)
            if sender is not None:
                ranges = own.setdefault(sender, [])
                if ranges and ranges[-1][1] == pos:
                    ranges[-1] = (ranges[-1][0], end)
                else:
                    ranges.append((pos, end))
            pos = end
        for c in self.room.joined_conns():
            cuts = own.get(c)
            if cuts is None:
                pieces, total = [blob], size
            else:
                pieces, start = [], 0
                for a, b in cuts:
                    if a > start:
                        pieces.append(blob[start:a])
                    start = b
                if start < size:
                    pieces.append(blob[start:])
                total = sum(map(len, pieces))
                if not total:
                    continue
            sent = 0
            if send_now and not c.out and not c.closing:
                try:
                    sent = c.sock.send(pieces[0]) if len(pieces) == 1 else c.sock.sendmsg(pieces)
                except BlockingIOError:
                    sent = 0
                except OSError as exc:
                    c.closing = _reason(exc)
                    self._doomed.append((c, c.closing))
                    continue
                if sent == total:
                    continue
            for piece in pieces:                 # what the kernel did not take, in order
                if sent >= len(piece):
                    sent -= len(piece)
                    continue
                self._enqueue(c, piece[sent:], len(piece) - sent)
                sent = 0

    def _enqueue(self, c: _Conn, data: memoryview | bytes, n: int) -> None:
        if n:
            out = c.out
            if n >= 1024:                # a big piece: share it (a view of the round's one buffer)
                out.append(data)
            elif out and type(out[-1]) is bytearray and len(out[-1]) < 65536:
                out[-1] += data          # small pieces: a copy costs less than a view object each
            else:
                out.append(bytearray(data))
            c.queued += n
            if c.queued > self.max_queue and not c.closing:
                c.closing = f"send queue over {self.max_queue} bytes (not reading)"
                self._doomed.append((c, c.closing))
        if not c.dirty:
            c.dirty = True
            self._dirty.append(c)

    def _write(self, c: _Conn) -> None:
        """One sendmsg() of what is queued (up to IOV_MAX buffers); watch for writability if it was short."""
        out = c.out
        while out:
            bufs = out if len(out) <= IOV_MAX else list(itertools.islice(out, IOV_MAX))
            size = c.queued if bufs is out else sum(map(len, bufs))
            try:
                sent = c.sock.sendmsg(bufs)
            except BlockingIOError:
                break
            except OSError as exc:
                self._drop(c, _reason(exc))
                return
            c.queued -= sent
            short = sent < size
            while sent:
                first = out[0]
                if sent >= len(first):
                    sent -= len(first)
                    out.popleft()
                else:
                    out[0] = memoryview(first)[sent:]
                    sent = 0
            if short:                    # the socket buffer is full: wait for EVENT_WRITE
                break
        if not out and c.closing:
            self._drop(c, c.closing)
            return
        want = bool(out)
        if want != c.writing:
            c.writing = want
            events = selectors.EVENT_READ | selectors.EVENT_WRITE if want else selectors.EVENT_READ
            self._sel.modify(c.sock, events, c)

    def _drop(self, c: _Conn, reason: str) -> None:
        """Forget a client: close its socket and let the room tell the others."""
        if c not in self._conns:
            return
        self._conns.discard(c)
        self.disconnects[reason] += 1
        if reason.startswith("send queue"):
            log.warning("disconnecting %s (%s): %s", c.peer, self._nick(c), reason)
        self._apply(self.room.disconnect(c, reason))
        self._sel.unregister(c.sock)
        c.sock.close()
        c.out.clear()

    def sockets(self) -> list[tuple[int, str, str]]:
        """What the loop is watching: (fd, whose, events) for the listener, its wake-up socket and each
        client. A snapshot read from another thread: take it while the server is quiet."""
        rows = []
        for key in list(self._sel.get_map().values()):
            c = key.data
            whose = ("listening socket" if c is None else "wake-up socketpair" if c == "wake" else
                     f"client {self._nick(c)} ({c.peer})")
            events = "+".join(n for n, bit in (("read", selectors.EVENT_READ), ("write", selectors.EVENT_WRITE))
                              if key.events & bit)
            rows.append((key.fd, whose, events))
        return sorted(rows)

    # -- stopping
    def stop(self) -> None:
        """Tell every client the server is going, send what is queued (up to ``shutdown_grace`` s), close all."""
        if self._listener is None or self._thread is None:
            return
        self._stopping = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._thread.join(self.shutdown_grace + 10)
        self._listener = None
        log.info("ChatServer stopped: %s", self.statistics())

    def _shutdown(self) -> None:
        assert self._listener is not None
        self._sel.unregister(self._listener)
        self._listener.close()
        self._apply(self.room.shutdown())
        self._end_round()
        deadline = time.monotonic() + self.shutdown_grace
        while any(c.out for c in self._conns) and time.monotonic() < deadline:
            for key, mask in self._sel.select(timeout=max(0.0, deadline - time.monotonic())):
                if isinstance(key.data, _Conn) and mask & selectors.EVENT_WRITE:
                    self._write(key.data)
        for c in list(self._conns):
            self._drop(c, "server shutting down")
        self._sel.close()
        self._wake_r.close()
        self._wake_w.close()

