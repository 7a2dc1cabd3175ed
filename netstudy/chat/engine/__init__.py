"""The chat room's engine: the sockets, the clock and the threads around ``core.ChatRoom``.

``server.py``: ``ThreadedChatServer`` (a thread per client) and ``ChatServer`` (one selectors loop).
``client.py``: ``ChatClient`` (a receiving thread, for programs, notebooks and tests) and
``run_terminal`` (the interactive client behind ``netstudy chat join``).
"""
from netstudy.chat.engine.client import ChatClient, connect, run_terminal
from netstudy.chat.engine.server import ChatServer, ThreadedChatServer, raise_fd_limit

__all__ = ["ChatClient", "ChatServer", "ThreadedChatServer", "connect", "raise_fd_limit", "run_terminal"]
