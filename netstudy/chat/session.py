"""A short chat session on loopback, captured segment by segment: the material notebook 06 dissects TCP
with (RFC 9293): the three-way handshake, data segments, acknowledgements and the FIN/ACK close.

:func:`capture_session` runs a ``ChatServer`` with one listener (bob) and one client (alice) on a plain
socket with ``TCP_NODELAY``, whose small ``send()`` calls are timed so that one line is split across two
segments and two lines travel in one. A packet socket on ``lo`` (root or CAP_NET_RAW;
``netstudy.net.capture.TcpPortCapture``) records alice's connection; :data:`RECORDED` is the same session
recorded by ``tests/data/record_chat_session.py``, for a run without privilege. :func:`segments`
(``netstudy.pcap.tcp_segments``) turns the frames into one row per TCP segment.
"""
from __future__ import annotations

import socket
import time
from importlib.resources import files

from netstudy.chat.engine import ChatClient, ChatServer
from netstudy.net.capture import TcpPortCapture
from netstudy.pcap import LinkType, Record
from netstudy.pcap import tcp_segments as segments

__all__ = ["RECORDED", "SCRIPT", "capture_session", "segments"]

RECORDED = files("netstudy") / "data" / "captures" / "chat_session.pcap"

# what alice's socket sends, one send() each, with a pause after it so each leaves as its own segment
SCRIPT: tuple[bytes, ...] = (b"/nick alice\n", b"hello, wo", b"rld\n", b"one line\nand another\n", b"/quit\n")


def capture_session(pause: float = 0.05) -> tuple[list[Record], list[str]]:
    """Run the session on loopback and capture alice's connection (needs an AF_PACKET socket: root or
    CAP_NET_RAW, else ``PrivilegeError``). Returns the frames and the lines bob heard."""
    with ChatServer() as server:
        bob = ChatClient("bob", port=server.address[1])
        alice = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        alice.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)    # every send() leaves at once
        alice.bind(("127.0.0.1", 0))
        try:
            with TcpPortCapture("lo", alice.getsockname()[1]) as capture:
                alice.connect(server.address)
                alice.settimeout(5)
                time.sleep(pause)                       # the server's greeting arrives before alice speaks
                for data in SCRIPT:
                    alice.sendall(data)
                    time.sleep(pause)
                while alice.recv(4096):                  # the server's lines, then its FIN (recv returns b"")
                    pass
                heard = [str(ev) for ev in bob.drain(quiet=pause) if ev.kind in ("message", "info")]
                alice.close()
                time.sleep(pause)
        finally:
            alice.close()
            bob.close()
    records = [Record(at, len(frame), len(frame), LinkType.ETHERNET, frame) for at, frame in capture.frames]
    return records, heard
