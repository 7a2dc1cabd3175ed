"""THE LESSON'S BUGGY FIRST VERSION: the seed's chat room, reproduced faithfully. Do not use it.

It is here so notebook 06 can run it, watch it fail, and fix it. Its bugs, on purpose:

1. One ``recv()`` is taken as one message. TCP delivers a byte stream (RFC 9293 §3.8.6 leaves the
   segment boundaries to the sender's stack), so two messages can arrive in one read and one message
   in two.
2. The nickname is read with ``recv(10)``: a longer name is cut, and its rest becomes a "message".
3. Before every read the server sends each client a magic string to see if it is still there; the
   client drops a read equal to it, but a read holding the magic string *and* a message prints both.
4. ``clients`` is shared by every thread with no lock: one thread iterates over it in ``broadcast``
   while another deletes a departed client, and Python raises ``RuntimeError: dictionary changed size
   during iteration`` in the innocent sender's thread, which then drops *that* sender.

``netstudy.chat.engine.ThreadedChatServer`` is the same design with all four fixed.
"""
from __future__ import annotations

import contextlib
import socket
import threading

MAGIC = b"@@ping@@"


class SeedServer:
    """The seed's server: a thread per client that rebroadcasts what it receives (buggy on purpose)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.clients: dict = {}              # socket -> nickname, used by every thread, no lock (bug 4)
        self.errors: list[str] = []          # what went wrong in the client threads, for the lesson
        self.sock: socket.socket | None = None

    def start(self) -> SeedServer:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((self.host, self.port))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept_loop, daemon=True).start()
        return self

    def accept_loop(self) -> None:
        assert self.sock is not None, "start() first"
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            nickname = client.recv(10).decode("utf-8", "replace")      # bug 2
            try:
                self.add(client, nickname)
            except Exception as exc:
                self.errors.append(f"accept: {type(exc).__name__}: {exc}")
            threading.Thread(target=self.handle, args=(client,), daemon=True).start()

    def add(self, client, nickname: str) -> None:
        self.clients[client] = nickname                                 # bug 4
        self.broadcast(f"{nickname} joined!".encode())

    def remove(self, client) -> None:
        nickname = self.clients.pop(client, "?")                       # bug 4
        client.close()
        self.broadcast(f"{nickname} left!".encode())

    def broadcast(self, message: bytes) -> None:
        for client in self.clients:                                     # bug 4: others mutate it meanwhile
            client.send(message)                                        # bug 1: no framing

    def handle(self, client) -> None:
        while True:
            try:
                client.send(MAGIC)                                      # bug 3
                message = client.recv(1024)                             # bug 1
                if not message:
                    raise ConnectionError("closed")
                self.broadcast(self.clients[client].encode() + b": " + message)
            except Exception as exc:                                    # drops *this* client, whoever failed
                self.errors.append(f"{type(exc).__name__}: {exc}")
                try:
                    self.remove(client)
                except Exception as exc:
                    self.errors.append(f"remove: {type(exc).__name__}: {exc}")
                return

    def stop(self) -> None:
        if self.sock is not None:
            self.sock.close()
        for client in list(self.clients):
            with contextlib.suppress(OSError):
                client.close()

    def __enter__(self) -> SeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def seed_client_read(sock: socket.socket) -> str | None:
    """The seed client's receiving thread body, one iteration: one recv() shown as one message (bugs 1, 3)."""
    message = sock.recv(1024)
    if message == MAGIC:
        return None
    return message.decode("utf-8", "replace")
