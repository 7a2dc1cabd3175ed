"""A short chat session on loopback, captured segment by segment: the material notebook 06 dissects TCP
with (RFC 9293): the three-way handshake, data segments, acknowledgements and the FIN/ACK close.

:func:`capture_session` runs a ``ChatServer`` with one listener (bob) and one client (alice) on a plain
socket with ``TCP_NODELAY``, whose small ``send()`` calls are timed so that one line is split across two
segments and two lines travel in one. A packet socket on ``lo`` (root or CAP_NET_RAW) records alice's
connection; :data:`RECORDED` is the same session recorded by ``tests/data/record_chat_session.py``, for a
run without privilege. :func:`segments` turns the frames into one row per TCP segment.
"""
from __future__ import annotations

import select
import socket
import threading
import time
from importlib.resources import files
from typing import Any

from netstudy.chat.engine import ChatClient, ChatServer
from netstudy.net.filter import attach_filter
from netstudy.net.link import PacketSocket
from netstudy.pcap import LinkType, Record
from netstudy.wire import TCP, decode
from netstudy.wire.bpf import compile_filter

__all__ = ["RECORDED", "SCRIPT", "capture_session", "segments"]

RECORDED = files("netstudy") / "data" / "captures" / "chat_session.pcap"

# what alice's socket sends, one send() each, with a pause after it so each leaves as its own segment
SCRIPT: tuple[bytes, ...] = (b"/nick alice\n", b"hello, wo", b"rld\n", b"one line\nand another\n", b"/quit\n")


def _sniff(sock: PacketSocket, port: int, stop: threading.Event, out: list[Record]) -> None:
    wall = time.time_ns() - time.perf_counter_ns()
    while not stop.is_set() or select.select([sock], [], [], 0)[0]:
        if not select.select([sock], [], [], 0.02)[0]:
            continue
        got = sock.read()
        if got is None:
            continue
        frame, when = got
        packet = decode(frame, LinkType.ETHERNET)
        tcp = packet.get(TCP)
        if tcp is not None and port in (tcp.sport, tcp.dport):
            out.append(Record(wall + when, len(frame), len(frame), LinkType.ETHERNET, frame))


def capture_session(pause: float = 0.05) -> tuple[list[Record], list[str]]:
    """Run the session on loopback and capture alice's connection (needs an AF_PACKET socket: root or
    CAP_NET_RAW, else ``PrivilegeError``). Returns the frames and the lines bob heard."""
    records: list[Record] = []
    with ChatServer() as server, PacketSocket("lo") as sniffer:
        bob = ChatClient("bob", port=server.address[1])
        alice = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        alice.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)    # every send() leaves at once
        alice.bind(("127.0.0.1", 0))
        # the kernel hands this socket only our connection's frames: the machine's other loopback
        # traffic never fills its buffer
        attach_filter(sniffer.sock, compile_filter(f"tcp port {alice.getsockname()[1]}", LinkType.ETHERNET))
        while sniffer.read() is not None:           # frames queued before the filter was attached
            pass
        stop = threading.Event()
        thread = threading.Thread(target=_sniff, args=(sniffer, alice.getsockname()[1], stop, records),
                                  name="chat-capture", daemon=True)
        thread.start()
        try:
            alice.connect(server.address)
            alice.settimeout(5)
            time.sleep(pause)                       # the server's greeting arrives before alice speaks
            for data in SCRIPT:
                alice.sendall(data)
                time.sleep(pause)
            while alice.recv(4096):                  # the server's lines, then its FIN (recv returns b"")
                pass
            heard = [str(ev) for ev in bob.drain(quiet=pause) if ev.kind in ("message", "info")]
        finally:
            alice.close()
            time.sleep(pause)
            stop.set()
            thread.join(5)
            bob.close()
    return records, heard


def segments(records: list[Record]) -> Any:
    """One row per TCP segment: time (ms from the first), who sent it, flags, sequence and acknowledgement
    numbers relative to each side's initial sequence number (as Wireshark shows them), payload length
    and bytes. The first segment's sender is the client."""
    import pandas as pd

    rows = []
    isn: dict[int, int] = {}
    client = None
    t0 = records[0].timestamp_ns if records else 0
    for r in records:
        packet = decode(r.data, r.linktype)
        tcp = packet[TCP]
        client = tcp.sport if client is None else client
        isn.setdefault(tcp.sport, tcp.seq)
        other = tcp.dport
        payload = packet.remainder
        rows.append({
            "time_ms": (r.timestamp_ns - t0) / 1e6,
            "from": "client" if tcp.sport == client else "server",
            "flags": tcp.flags,
            "seq": (tcp.seq - isn[tcp.sport]) % 2**32,
            "ack": (tcp.ack - isn[other]) % 2**32 if tcp.ack_flag and other in isn else 0,
            "len": len(payload),
            "payload": payload,
        })
    return pd.DataFrame(rows)
