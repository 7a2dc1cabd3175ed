"""Peer-to-peer chat without a server: UDP discovery, TCP links between peers, gossip.

``core/``        sans-I/O: ``announce.py``, the ``Announcement`` (a 36-byte field table) and its codec;
                 ``node.py``, ``PeerNode``
                 (``receive_announcement`` / ``link_opened`` / ``receive(link, data, now_ns)`` /
                 ``link_closed`` / ``say`` / ``whisper`` / ``expire(now_ns)`` in; ``Dial`` / ``Send`` /
                 ``Close`` / ``Deliver`` / ``Event`` / ``Log`` out), the tables ``PEER`` and ``LINK``, and
                 what is and is not guaranteed (its docstring)
``engine.py``    ``Peer``: the discovery socket (multicast on ``lo`` by default; on ``iface`` IPv4 multicast,
                 broadcast when asked or when the link takes no multicast, or IPv6 link-local multicast with
                 ``family=6``), the links, a selectors loop on a worker thread (``with Peer("alice") as p:``)
``session.py``   two peers' TCP link on ``lo`` captured segment by segment (or the recorded capture), for
                 notebook 07's TCP dissection
``agent.py``     a peer driven by JSON lines on stdin/stdout, for lab tests, the benchmark and the
                 notebook's recordings (``python -m netstudy.p2p.agent NAME --iface eth0``)
``swarm.py``     many agents as processes (in the lab's namespaces or on loopback), and ``lab_run``, notebook
                 07's lab experiment
``output.py``    what the terminal peer prints (control characters escaped), and ``run_terminal``'s parsing
``figures.py``   the peer graph, the gossip tree, the membership timeline, client/server against P2P
``exercises.py`` notebook 07's checks; ``solutions.py`` their reference answers
"""
from netstudy.p2p.core import (
    ANNOUNCE_FORMAT,
    DISCOVERY_GROUP,
    DISCOVERY_PORT,
    LINK,
    PEER,
    Announcement,
    Arrival,
    LinkState,
    Message,
    PeerNode,
    PeerState,
    decode_announcement,
    encode_announcement,
)
from netstudy.p2p.engine import Peer, Record

__all__ = ["ANNOUNCE_FORMAT", "DISCOVERY_GROUP", "DISCOVERY_PORT", "LINK", "PEER", "Announcement", "Arrival",
           "LinkState", "Message", "Peer", "PeerNode", "PeerState", "Record", "decode_announcement",
           "encode_announcement"]
