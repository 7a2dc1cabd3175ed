"""Play a scripted conversation through a ``ChatRoom`` (no sockets) and record every line that would
cross the wire, in order: the material for a sequence diagram, exactly what the servers would send."""
from __future__ import annotations

from dataclasses import dataclass

from netstudy.chat.protocol import Broadcast, ChatRoom, Send, encode_line

SERVER = "server"


@dataclass(frozen=True, slots=True)
class Hop:
    """One line on the wire: ``step`` groups a client's line with the server's answers to it."""
    step: int
    src: str
    dst: str
    text: str


def trace_conversation(script: list[tuple[str, str]], room: ChatRoom | None = None) -> list[Hop]:
    """``script`` is (client, line) pairs; a client's first appearance connects it. Returns every hop."""
    room = room if room is not None else ChatRoom()
    hops: list[Hop] = []
    connected: list[str] = []
    for step, (client, line) in enumerate(script):
        if client not in connected:
            connected.append(client)
            room.connect(client)                    # the greeting is left out of the picture
        hops.append(Hop(step, client, SERVER, line))
        for action in room.receive(client, encode_line(line)):
            if type(action) is Send:
                hops.append(Hop(step, SERVER, action.to, action.line.decode().rstrip("\n")))
            elif type(action) is Broadcast:
                text = action.line.decode().rstrip("\n")
                hops += [Hop(step, SERVER, c, text) for c in room.joined_conns() if c != action.exclude]
    return hops
