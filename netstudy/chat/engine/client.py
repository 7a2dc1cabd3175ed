"""Chat clients: ``ChatClient`` for programs, notebooks and tests; ``run_terminal`` for people.

Both have the seed's shape, a receiving thread beside the sending side, but frame the byte stream
with ``LineFramer`` instead of trusting one ``recv()`` to be one message. What the terminal shows of
each server line is the caller's ``render`` (``netstudy chat join`` passes ``chat.output.render``).
"""
from __future__ import annotations

import builtins
import contextlib
import os
import queue
import selectors
import socket
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from netstudy.chat.core import DEFAULT_HOST, DEFAULT_PORT, ServerLine, parse_server_line
from netstudy.errors import NetstudyError, check_number
from netstudy.wire.lines import MAX_LINE, Line, LineFramer, encode_line


def connect(host: str, port: int, timeout: float = 5.0) -> socket.socket:
    """A TCP connection, or an OSError that names the address and hints at the server."""
    check_number("port", port, 1, 65535, whole=True)
    try:
        return socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise type(exc)(f"cannot connect to {host}:{port}: {exc.strerror or exc} "
                        "(is `netstudy chat serve` running there?)") from None


class ChatClient:
    """A connection to a chat server with a receiving thread; every server line lands in ``inbox``.

    >>> with ChatClient("alice", port=srv.address[1]) as alice:   # doctest: +SKIP
    ...     alice.say("hello")
    """

    def __init__(self, nick: str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
                 timeout: float = 5.0, on_line: Callable[[ServerLine], None] | None = None) -> None:
        self.nick, self.timeout = nick, timeout
        self.sock = connect(host, port, timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(None)
        self.inbox: queue.Queue[ServerLine | None] = queue.Queue()   # None: the server closed
        self.closed = threading.Event()
        self._on_line = on_line
        self._reader = threading.Thread(target=self._receive, name=f"chat-{nick}", daemon=True)
        self._reader.start()
        try:
            self._join()
        except BaseException:
            self.close()
            raise

    def _receive(self) -> None:
        framer = LineFramer(2 * MAX_LINE)      # server lines carry a nickname before the text
        try:
            while data := self.sock.recv(65536):
                for ev in framer.feed(data):
                    if type(ev) is Line:
                        line = parse_server_line(ev.text)
                        if self._on_line is not None:
                            self._on_line(line)
                        self.inbox.put(line)
        except OSError:
            pass
        self.closed.set()
        self.inbox.put(None)

    def _join(self) -> None:
        self.send_line(f"/nick {self.nick}")
        while True:
            ev = self.recv()
            if ev.kind == "error":
                raise NetstudyError(f"cannot join as {self.nick!r}: {ev.code} {ev.text}")
            if ev.kind == "notice" and ev.text.startswith("welcome "):
                return

    # -- sending
    def send_line(self, text: str) -> None:
        self.sock.sendall(encode_line(text))

    def say(self, text: str) -> None:
        self.send_line("/" + text if text.startswith("/") else text)

    def msg(self, nick: str, text: str) -> None:
        self.send_line(f"/msg {nick} {text}")

    def me(self, action: str) -> None:
        self.send_line(f"/me {action}")

    def rename(self, nick: str) -> None:
        self.send_line(f"/nick {nick}")
        self.nick = nick

    # below this method, ``list`` in an annotation would name it: the builtin is ``builtins.list`` there
    def list(self) -> list[str]:
        """Ask who is online and wait for the answer (other lines that arrive meanwhile stay queued)."""
        self.send_line("/list")
        skipped: builtins.list[ServerLine | None] = []
        try:
            while True:
                ev = self.recv()
                if ev.kind == "notice" and " online: " in ev.text and ev.text.split(" ")[0].isdigit():
                    return ev.text.split(": ", 1)[1].split(", ")
                skipped.append(ev)
        finally:
            self._unget(skipped)

    def quit(self, reason: str = "") -> None:
        """Say goodbye and wait (up to ``timeout``) for the server to close the connection."""
        with contextlib.suppress(OSError):
            self.send_line(f"/quit {reason}".rstrip())
        self.closed.wait(self.timeout)
        self.close()

    # -- receiving
    def recv(self, timeout: float | None = None) -> ServerLine:
        """The next server line; TimeoutError if none within ``timeout``, ConnectionError once closed."""
        try:
            ev = self.inbox.get(timeout=self.timeout if timeout is None else timeout)
        except queue.Empty:
            raise TimeoutError(f"{self.nick}: nothing from the server in "
                               f"{self.timeout if timeout is None else timeout} s") from None
        if ev is None:
            self.inbox.put(None)
            raise ConnectionError(f"{self.nick}: the server closed the connection")
        return ev

    def recv_until(self, predicate: Callable[[ServerLine], bool],
                   timeout: float | None = None) -> builtins.list[ServerLine]:
        """Lines up to and including the first that satisfies ``predicate``."""
        got: builtins.list[ServerLine] = []
        while True:
            got.append(self.recv(timeout))
            if predicate(got[-1]):
                return got

    def drain(self, quiet: float = 0.2) -> builtins.list[ServerLine]:
        """Everything that arrives until the server has been quiet for ``quiet`` seconds."""
        got: builtins.list[ServerLine] = []
        try:
            while True:
                got.append(self.recv(quiet))
        except (TimeoutError, ConnectionError):
            return got

    def _unget(self, lines: builtins.list[ServerLine | None]) -> None:
        if lines:
            rest: builtins.list[ServerLine | None] = []
            while not self.inbox.empty():
                rest.append(self.inbox.get_nowait())
            for ev in lines + rest:
                self.inbox.put(ev)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._reader.join(self.timeout)

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ChatClient {self.nick} {'closed' if self.closed.is_set() else 'connected'}>"


# ------------------------------------------------------------------------------------------ terminal
def run_terminal(nick: str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
                 stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout,
                 render: Callable[[ServerLine], str] = str) -> int:
    """The interactive client: a receiving thread prints, this thread reads your lines and sends them.

    Each server line is printed as ``render(line)`` (by default its wire text). Ends on ``/quit``, end
    of input, Ctrl-C (sending ``/quit`` for you) or when the server closes. When whatever reads
    ``stdout`` goes away (``| head -1``) the receiving thread's BrokenPipeError ends the client and is
    raised here, in the calling thread, for the caller to end quietly as a Unix tool does.
    """
    lock = threading.Lock()
    joined = threading.Event()
    closed_pipe: list[BrokenPipeError] = []       # from the receiving thread

    def show(ev: ServerLine) -> None:
        if ev.kind == "notice" and ev.text.endswith("pick a nickname with /nick NAME"):
            return                  # the greeting is for nc users; we pick the name for you
        if ev.kind == "error" and not joined.is_set():
            return                  # refused while joining: ChatClient raises it, the CLI prints it once
        if ev.kind == "notice" and ev.text.startswith("welcome "):
            joined.set()
        with lock:
            try:
                print(render(ev), file=stdout, flush=True)
            except BrokenPipeError as exc:
                closed_pipe.append(exc)     # ChatClient's reader stops on it (an OSError)
                raise

    show(ServerLine("notice", f"joining {host}:{port} as {nick}: /help lists the commands, /quit leaves"))
    sel = selectors.DefaultSelector()
    wake_r, wake_w = socket.socketpair()
    client: ChatClient | None = None
    try:
        client = ChatClient(nick, host, port, on_line=show)

        def wake_when_closed() -> None:
            client.closed.wait()
            with contextlib.suppress(OSError):      # we are already on our way out
                wake_w.send(b"x")

        threading.Thread(target=wake_when_closed, daemon=True).start()
        sel.register(stdin.fileno(), selectors.EVENT_READ, "stdin")
        sel.register(wake_r, selectors.EVENT_READ, "closed")
        framer = LineFramer()
        while not client.closed.is_set():
            for key, _ in sel.select():
                if key.data == "closed":
                    break
                data = os.read(stdin.fileno(), 65536)
                if not data:
                    client.quit()
                    return 0
                for ev in framer.feed(data):
                    if type(ev) is not Line or not ev.text.strip():
                        continue
                    command, _, reason = ev.text.partition(" ")
                    if command.lower() == "/quit":
                        client.quit(reason)
                        return 0
                    client.send_line(ev.text)
        if closed_pipe:
            raise closed_pipe[0]
        show(ServerLine("notice", "connection closed by the server"))
        return 0
    except KeyboardInterrupt:       # Ctrl-C, at any moment: say goodbye if we got as far as joining
        if client is not None:
            client.quit("interrupted")
        return 0
    except OSError as exc:
        if closed_pipe:             # our stdout's reader is gone (the socket's are other OSErrors)
            raise closed_pipe[0] from None
        if client is None:          # could not connect: the CLI prints it as one line
            raise
        show(ServerLine("notice", f"connection lost: {exc.strerror or exc}"))    # gone while we sent
        return 0
    finally:
        sel.close()
        wake_r.close()
        wake_w.close()
        if client is not None:
            client.close()
