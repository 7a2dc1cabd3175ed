"""A TCP chat room: the sans-I/O protocol, a threaded and an event-loop server, clients, a load generator."""
from netstudy.chat.client import ChatClient, run_terminal
from netstudy.chat.protocol import ChatRoom, LineFramer, ServerLine, encode_line, parse_server_line
from netstudy.chat.server import ChatServer, ThreadedChatServer

__all__ = ["ChatClient", "ChatRoom", "ChatServer", "LineFramer", "ServerLine", "ThreadedChatServer",
           "encode_line", "parse_server_line", "run_terminal"]
