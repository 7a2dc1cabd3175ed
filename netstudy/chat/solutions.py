"""Solutions to notebook 06's exercises (try them yourself first)."""
from __future__ import annotations

import contextlib
import threading

from netstudy.chat.core import Broadcast, ChatRoom, Member, Send
from netstudy.chat.seed import SeedServer
from netstudy.wire.lines import encode_line


class TopicRoom(ChatRoom):
    """Exercise 1: a room with a topic."""

    topic = "(no topic yet)"

    def cmd_topic(self, m: Member, arg: str, out: list) -> None:
        """/topic [text]: show or set the room's topic"""
        if not arg:
            out.append(Send(m.conn, encode_line(f"*** topic: {self.topic}")))
            return
        self.topic = arg
        out.append(Broadcast(encode_line(f"*** {m.nick} set the topic: {arg}")))


class LockedSeedServer(SeedServer):
    """Exercise 2: the seed's shared dict behind one lock; sends go to a snapshot taken under it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lock = threading.Lock()

    def add(self, client, nickname: str) -> None:
        with self.lock:
            self.clients[client] = nickname
        self.broadcast(f"{nickname} joined!".encode())

    def remove(self, client) -> None:
        with self.lock:
            nickname = self.clients.pop(client, "?")
        client.close()
        self.broadcast(f"{nickname} left!".encode())

    def broadcast(self, message: bytes) -> None:
        with self.lock:
            recipients = list(self.clients)
        for client in recipients:
            with contextlib.suppress(OSError):
                client.send(message)
