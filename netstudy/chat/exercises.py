"""Checks for notebook 06's exercises: each runs your code and says what is right or what to fix."""
from __future__ import annotations

import threading
import time

from netstudy.chat.core import Broadcast, ChatRoom, Send


def _lines(actions: list, conn: object) -> list[str]:
    """What ``conn`` would receive from these actions (a member of the room)."""
    return [a.line.decode().rstrip("\n") for a in actions
            if (type(a) is Send and a.to == conn) or (type(a) is Broadcast and a.exclude != conn)]


def _verdict(check) -> str:
    """Run a check: "✓ what works" or "✗ what to fix" (the first failed expectation)."""
    try:
        return "✓ " + check()
    except AssertionError as exc:
        return f"✗ {exc}"


def check_topic_command(room_class: type) -> str:
    """Exercise 1: ``/topic text`` sets the room's topic and tells everyone; ``/topic`` alone shows it."""
    return _verdict(lambda: _topic(room_class))


def _topic(room_class: type) -> str:
    assert issubclass(room_class, ChatRoom), "make your room a subclass of ChatRoom"
    assert hasattr(room_class, "cmd_topic"), "add a method cmd_topic(self, member, arg, out) to your room"
    room = room_class()
    for conn, nick in ((1, "alice"), (2, "bob")):
        room.connect(conn)
        room.receive(conn, f"/nick {nick}\n".encode())
    shown = _lines(room.receive(2, b"/topic\n"), 2)
    assert shown, "/topic with no text should answer the asker (a Send to member.conn) with the topic"
    actions = room.receive(1, b"/topic packets and sockets\n")
    to_bob, to_alice = _lines(actions, 2), _lines(actions, 1)
    assert any("packets and sockets" in line for line in to_bob), (
        f"bob should hear about the new topic, he got {to_bob}: append a Broadcast(encode_line(...)) to out")
    assert any("alice" in line for line in to_bob), f"say who set the topic: bob got {to_bob}"
    assert to_alice, "alice set the topic: she should see it too (Broadcast without exclude)"
    shown = _lines(room.receive(2, b"/topic\n"), 2)
    assert any("packets and sockets" in line for line in shown), f"/topic should now show the topic, got {shown}"
    return "/topic works: set, broadcast to everyone, shown on request"


class _FakeClient:
    """Stands in for a socket: send() gives other threads the chance a real send() gives them."""

    def send(self, data: bytes) -> int:
        time.sleep(0)
        return len(data)

    def close(self) -> None:
        pass


def race_errors(server_class: type, seconds: float = 1.0) -> list[str]:
    """Hammer ``add``/``remove``/``broadcast`` of a SeedServer-like class from several threads; the errors seen."""
    server = server_class()
    errors: list[str] = []
    stop = time.monotonic() + seconds

    def talker() -> None:
        while time.monotonic() < stop:
            try:
                server.broadcast(b"hello\n")
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    def comer_and_goer(k: int) -> None:
        while time.monotonic() < stop:
            client = _FakeClient()
            try:
                server.add(client, f"guest{k}")
                server.remove(client)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    for k in range(5):
        server.add(_FakeClient(), f"regular{k}")
    threads = [threading.Thread(target=talker) for _ in range(3)]
    threads += [threading.Thread(target=comer_and_goer, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def check_seed_fix(server_class: type) -> str:
    """Exercise 2: your subclass of SeedServer survives clients coming and going while others talk."""
    return _verdict(lambda: _seed_fix(server_class))


def _seed_fix(server_class: type) -> str:
    errors = race_errors(server_class)
    assert not errors, (f"clients coming and going broke the talkers, e.g. {errors[0]!r}: every use of self.clients "
                        "(add, remove, broadcast) must hold one threading.Lock, and broadcast should send "
                        "to a copy taken under the lock (list(self.clients)) so it never holds the lock "
                        "while sending")
    return "no race in 1 s of 3 talkers and 3 clients coming and going: the lock works"
