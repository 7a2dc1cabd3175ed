"""Two peers' TCP link on loopback, captured segment by segment: what notebook 07 dissects TCP with (RFC 9293).

:func:`capture_link` starts ``alice``, then ``bob`` on a TCP port chosen in advance, which a packet socket on
``lo`` (root or CAP_NET_RAW; ``netstudy.net.capture.TcpPortCapture``) is already watching. Bob's first
announcement reaches alice, who dials him: one link, alice the client, bob the server (should bob hear alice
first and dial her too, alice's link is still the one kept: her id :data:`ALICE_ID` is the smaller, see
``netstudy.p2p.core``). The capture holds the three-way handshake, each side's hello line, alice's gossip
line (:data:`TEXT`) and bob's acknowledgement, and the close when alice leaves. :data:`RECORDED` is the same
run recorded by ``tests/data/record_p2p_link.py``, for a run without privilege; ``netstudy.pcap.tcp_segments``
turns the frames into one row per segment.
"""
from __future__ import annotations

import functools
import random
import socket
import time
from importlib.resources import files

from netstudy.net.capture import TcpPortCapture
from netstudy.p2p.engine import Peer
from netstudy.pcap import LinkType, Record

__all__ = ["ALICE_ID", "BOB_ID", "RECORDED", "TEXT", "capture_link"]

RECORDED = files("netstudy") / "data" / "captures" / "p2p_link.pcap"
ALICE_ID, BOB_ID = 0x1111_1111_1111_1111, 0xBBBB_BBBB_BBBB_BBBB
TEXT = "hello, bob"


def capture_link(pause: float = 0.2, discovery_port: int | None = None) -> tuple[list[Record], list[str]]:
    """Run the two peers on loopback (on ``discovery_port``, default a random one: no other run's peers join)
    and capture alice's link to bob (needs an AF_PACKET socket: root or CAP_NET_RAW, else
    ``PrivilegeError``). Returns the frames and the texts bob delivered."""
    peer = functools.partial(Peer, discovery_port=discovery_port or random.randrange(40000, 50000), interval=0.2,
                             timeout=2.0, links=1)
    with socket.socket() as probe:                      # a free port for bob, known before he starts
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (peer("alice", peer_id=ALICE_ID) as alice, TcpPortCapture("lo", port) as capture,
          peer("bob", peer_id=BOB_ID, port=port) as bob):
        for one in (alice, bob):
            if not one.wait_for(lambda p: len(p.node.neighbours()) == 1, 5):
                raise TimeoutError(f"{one.name} found no link in 5 s")
        time.sleep(pause)
        alice.say(TEXT)
        bob.wait_for(lambda p: any(r.text == TEXT for r in p.records), 5)
        time.sleep(pause)                               # bob's acknowledgement
        heard = [r.text for r in bob.records if r.kind == "message"]
        alice.stop()                                    # alice leaves: her bye, then both FINs
        time.sleep(pause)
    records = [Record(at, len(frame), len(frame), LinkType.ETHERNET, frame) for at, frame in capture.frames]
    return records, heard
