"""A TCP chat room: the sans-I/O room, a threaded and an event-loop server, clients, a load generator.

``core.py``      the room, sans-I/O (its line framing is ``netstudy.wire.lines``): ``ChatRoom`` (``connect`` /
                 ``receive(conn, data, now_ns)`` / ``disconnect`` / ``expire(now_ns)`` in, ``Send`` /
                 ``Broadcast`` / ``Close`` / ``Log`` out), a member's ``State`` and its table ``MEMBER``,
                 ``parse_server_line`` (what a client reads)
``engine/``      ``server.py``: ``ThreadedChatServer``, ``ChatServer``; ``client.py``: ``ChatClient``,
                 ``run_terminal``
``output.py``    what the terminal client prints: ``render``, ``nick_colour``
``figures.py``   ``trace_conversation`` and its ``sequence_diagram``; ``load_figure``
``load.py``      a load generator: many clients on one selectors loop, in a second process
                 (``python -m netstudy.chat.load``)
``session.py``   a short chat session captured on ``lo`` (or the recorded one) and its TCP segments, for
                 notebook 06's dissection of TCP
``seed.py``      the course's original chat room, buggy on purpose (notebook 06's first lesson)
``exercises.py`` notebook 06's checks; ``solutions.py`` their reference answers
"""
from netstudy.chat.core import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    MEMBER,
    Broadcast,
    ChatRoom,
    Close,
    Log,
    Member,
    Send,
    ServerLine,
    State,
    parse_server_line,
)
from netstudy.chat.engine import ChatClient, ChatServer, ThreadedChatServer, run_terminal

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "MEMBER", "Broadcast", "ChatClient", "ChatRoom", "ChatServer", "Close",
           "Log", "Member", "Send", "ServerLine", "State", "ThreadedChatServer", "parse_server_line", "run_terminal"]
