"""The p2p core without sockets: the announcement codec (against struct), membership and its timeouts,
links, gossip (exactly once, hop counts, hop limit), private messages, Lamport order, hostile input."""
from __future__ import annotations

import json
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netstudy.errors import DecodeError, InputError
from netstudy.p2p.core import (
    ANNOUNCE_FORMAT,
    BYE,
    LINK,
    PEER,
    Announcement,
    Close,
    Deliver,
    Dial,
    Event,
    Log,
    PeerNode,
    PeerState,
    Send,
    decode_announcement,
    encode_announcement,
)
from netstudy.p2p.output import escape, render

S = 1_000_000_000


def test_announcement_is_the_documented_struct_and_the_field_table():
    data = encode_announcement("alice", 0x1122334455667788, 40000, 7)
    assert data == struct.pack("!4sBBHQI16s", b"NSP2", 1, 1, 40000, 0x1122334455667788, 7, b"alice")
    assert len(data) == struct.calcsize(ANNOUNCE_FORMAT) == 36
    a = Announcement.parse(data)
    assert (a.kind, a.port, a.peer_id, a.seq) == (1, 40000, 0x1122334455667788, 7)
    assert bytes(Announcement(port=40000, peer_id=0x1122334455667788, seq=7, name=b"alice" + bytes(11))) == data
    heard = decode_announcement(data)
    assert (heard.name, heard.peer_id, heard.port) == ("alice", 0x1122334455667788, 40000)


@pytest.mark.parametrize("data, field", [
    (b"", "magic"), (b"NSP2", "header"), (b"XXXX" + bytes(32), "magic"),
    (struct.pack("!4sBBHQI16s", b"NSP2", 9, 1, 1, 1, 1, b"a"), "version"),
    (struct.pack("!4sBBHQI16s", b"NSP2", 1, 7, 1, 1, 1, b"a"), "kind"),
    (struct.pack("!4sBBHQI16s", b"NSP2", 1, 1, 0, 1, 1, b"a"), "port"),
    (struct.pack("!4sBBHQI16s", b"NSP2", 1, 1, 1, 0, 1, b"a"), "peer_id"),
    (struct.pack("!4sBBHQI16s", b"NSP2", 1, 1, 1, 1, 1, b"\xff\xfe"), "name"),
    (struct.pack("!4sBBHQI16s", b"NSP2", 1, 1, 1, 1, 1, b"a\x1bb"), "name"),
    (struct.pack("!4sBBHQI16s", b"NSP2", 1, 1, 1, 1, 1, b""), "name"),
    (encode_announcement("a", 1, 1) + b"x", "length"),
])
def test_malformed_announcements_are_decode_errors_naming_the_field(data, field):
    with pytest.raises(DecodeError) as err:
        decode_announcement(data)
    assert err.value.field == field


def node(name, pid, **kw):
    return PeerNode(name, pid, 1000 + pid, **kw)


def test_membership_join_suspect_gone_and_back():
    a = node("alice", 1, suspect=1, timeout=3)
    out = a.receive_announcement(encode_announcement("bob", 2, 1002), "127.0.0.1", 0)
    assert Event("join", 2, "bob") in out and Dial(2, "127.0.0.1", 1002) in out
    assert a.members[2].state is PeerState.ALIVE
    a.expire(int(1.5 * S))
    assert a.members[2].state is PeerState.SUSPECT
    a.receive_announcement(encode_announcement("bob", 2, 1002, 2), "127.0.0.1", 2 * S)
    assert a.members[2].state is PeerState.ALIVE
    out = a.expire(int(5.1 * S))
    assert a.members[2].state is PeerState.GONE and [e for e in out if isinstance(e, Event)][0].kind == "leave"
    out = a.receive_announcement(encode_announcement("bob", 2, 1002, 3), "127.0.0.1", 6 * S)
    assert Event("join", 2, "bob") in out
    out = a.receive_announcement(encode_announcement("bob", 2, 1002, 4, BYE), "127.0.0.1", 6 * S)
    assert Event("leave", 2, "bob", "said bye") in out
    assert ("ALIVE", "timeout", "GONE") in PEER.rows() and ("OPENING", "hello", "UP") in LINK.rows()


def test_own_announcements_and_garbage_are_ignored_with_a_log():
    a = node("alice", 1)
    assert a.receive_announcement(a.announce(0), "127.0.0.1", 0) == []
    out = a.receive_announcement(b"GET / HTTP/1.1\r\n", "127.0.0.1", 0)
    assert len(out) == 1 and isinstance(out[0], Log) and "magic" in out[0].message
    assert a.members == {} and a.stats["bad announcements"] == 1


@settings(max_examples=300)
@given(st.binary(max_size=80))
def test_any_datagram_never_raises(data):
    a = node("alice", 1)
    for act in a.receive_announcement(data, "127.0.0.1", 0):
        assert isinstance(act, (Log, Event, Dial))


class Net:
    """Nodes wired by in-memory links: Dial connects, Send delivers (in order), Close closes both ends."""

    def __init__(self, nodes):
        self.nodes = {n.peer_id: n for n in nodes}
        self.queue = []              # (node id, link, bytes)
        self.delivered = {n.peer_id: [] for n in nodes}
        self.ends = {}               # link -> (owner id, the other end)
        self.next = 0

    def do(self, pid, actions, now):
        for a in actions:
            if isinstance(a, Dial):
                self.next += 2
                mine, theirs = ("L", self.next), ("L", self.next + 1)
                self.ends[mine], self.ends[theirs] = (pid, theirs), (a.peer_id, mine)
                self.do(a.peer_id, self.nodes[a.peer_id].link_opened(theirs, now), now)
                self.do(pid, self.nodes[pid].link_opened(mine, now, dialed=a.peer_id), now)
            elif isinstance(a, Send):
                self.queue.append((a.link, a.data))
            elif isinstance(a, Close):
                other = self.ends.get(a.link, (None, None))[1]
                if other in self.ends:
                    owner = self.ends[other][0]
                    self.do(owner, self.nodes[owner].link_closed(other, "closed by peer", now), now)
            elif isinstance(a, Deliver):
                self.delivered[pid].append(a.arrival)

    def run(self, now=0):
        while self.queue:
            link, data = self.queue.pop(0)
            owner, other = self.ends[link]
            dest = self.ends[other][0]
            self.do(dest, self.nodes[dest].receive(other, data, now), now)

    def discover(self, now=0):
        for p in self.nodes.values():
            for q in self.nodes.values():
                if p is not q:
                    self.do(q.peer_id, q.receive_announcement(p.announce(now), "10.0.0.1", now), now)
        self.run(now)


def test_gossip_on_a_ring_reaches_everyone_exactly_once_with_hop_counts():
    nodes = [node(f"p{i}", i, links=1) for i in range(1, 9)]
    net = Net(nodes)
    net.discover()
    assert [n.neighbours() for n in nodes][0] == [2, 8]          # a ring: successor and predecessor
    net.do(1, nodes[0].say("hello", 5), 5)
    net.run(6)
    for n in nodes:
        got = [a for a in net.delivered[n.peer_id] if a.message.text == "hello"]
        assert len(got) == 1, n.name
    hops = {n.peer_id: net.delivered[n.peer_id][0].hops for n in nodes}
    assert hops == {1: 0, 2: 1, 8: 1, 3: 2, 7: 2, 4: 3, 6: 3, 5: 4}
    assert sum(n.stats["duplicates"] for n in nodes) >= 1       # 5 hears it from both sides


def test_hop_limit_stops_a_message():
    nodes = [node(f"p{i}", i, links=1, hop_limit=2) for i in range(1, 9)]
    net = Net(nodes)
    net.discover()
    net.do(1, nodes[0].say("near", 0), 0)
    net.run()
    reached = {pid for pid, arr in net.delivered.items() if arr}
    assert reached == {1, 2, 8, 3, 7}


def test_private_message_reaches_only_its_target_even_without_a_direct_link():
    nodes = [node(f"p{i}", i, links=1) for i in range(1, 7)]
    net = Net(nodes)
    net.discover()
    net.do(1, nodes[0].whisper("p4", "psst", 0), 0)
    net.run()
    assert [pid for pid, arr in net.delivered.items() if arr and pid != 1] == [4]
    with pytest.raises(InputError, match="no peer"):
        nodes[0].whisper("zed", "hi", 0)


def test_lamport_order_a_reply_is_later_than_what_it_answers():
    nodes = [node(f"p{i}", i) for i in range(1, 4)]
    net = Net(nodes)
    net.discover()
    net.do(1, nodes[0].say("question", 0), 0)
    net.run()
    net.do(3, nodes[2].say("answer", 0), 0)
    net.run()
    order = [a.message.text for a in nodes[1].messages()]
    assert order == ["question", "answer"]
    assert nodes[1].messages()[0].message.lamport < nodes[1].messages()[1].message.lamport


def test_history_keeps_the_last_n_per_peer():
    nodes = [node("a", 1, history=3), node("b", 2, history=3)]
    net = Net(nodes)
    net.discover()
    for i in range(5):
        net.do(1, nodes[0].say(f"m{i}", 0), 0)
    net.run()
    assert [a.message.text for a in nodes[1].messages(1)] == ["m2", "m3", "m4"]


def test_duplicate_names_are_told_apart():
    a = node("alice", 1)
    a.receive_announcement(encode_announcement("bob", 0xB0B1, 2), "h", 0)
    a.receive_announcement(encode_announcement("bob", 0xB0B2, 3), "h", 0)
    assert sorted(a.display_name(m.peer_id) for m in a.alive()) == ["bob#b0b1", "bob#b0b2"]
    with pytest.raises(InputError, match="2 peers"):
        a.whisper("bob", "x", 0)
    a.whisper("bob#b0b2", "x", 0)


@pytest.mark.parametrize("line", [
    b"not json\n", b"[1,2]\n", b'{"t":"msg"}\n', b'{"t":"nope"}\n', b"\xff\xfe\n", b"x" * 9000 + b"\n",
    b'{"t":"msg","id":"x","from":"0000000000000002","name":"b","to":null,"lamport":1e99,"ttl":1,"hops":0,"text":"t"}\n',
    b'{"t":"msg","id":"x","from":"0000000000000002","name":"b","to":null,"lamport":99999999999,"ttl":1,"hops":0,'
    b'"text":"t"}\n',
])
def test_hostile_lines_are_logged_and_the_link_keeps_working(line):
    nodes = [node("a", 1), node("b", 2)]
    net = Net(nodes)
    net.discover()
    link = next(iter(nodes[0]._links))
    out = nodes[0].receive(link, line, 0)
    assert all(isinstance(x, Log) for x in out) and out
    ok = {"t": "msg", "id": "z-1", "from": "0000000000000002", "name": "b", "to": None, "lamport": 1, "ttl": 4,
          "hops": 0, "text": "fine"}
    out = nodes[0].receive(link, json.dumps(ok).encode() + b"\n", 0)
    assert [x.arrival.message.text for x in out if isinstance(x, Deliver)] == ["fine"]


def test_a_line_before_hello_is_refused():
    a = node("a", 1)
    a.link_opened("k", 0)
    out = a.receive("k", b'{"t":"msg"}\n', 0)
    assert isinstance(out[0], Log) and "hello" in out[0].message


def test_output_escapes_control_characters():
    assert escape("hi\x1b[2J\x07\u202e") == "hi\\x1b[2J\\x07\\u202e"
    assert render("message", "e\x1bvil", "x\ry") == "<e\\x1bvil> x\\x0dy"
