"""Notebook 07's TCP link between two peers: captured live on lo (root) and as recorded in
netstudy/data/captures/p2p_link.pcap. Both must hold one whole connection: the handshake, each side's hello
line, alice's gossip line as one data segment with the chat framing, bob's acknowledgement of it, the close."""
from __future__ import annotations

import json

from conftest import need_root

from netstudy import pcap
from netstudy.p2p.session import ALICE_ID, RECORDED, TEXT, capture_link
from netstudy.wire import TCP, decode


def check_link(records):
    seg = pcap.tcp_segments(records)
    assert list(seg["flags"][:3]) == ["S", "S.", "."]                      # the three-way handshake
    syn, synack, ack = (decode(r.data, r.linktype)[TCP] for r in records[:3])
    assert synack.ack == (syn.seq + 1) % 2**32 and ack.ack == (synack.seq + 1) % 2**32
    data = seg[seg["len"] > 0]
    lines = [(row["from"], json.loads(row["payload"])) for _, row in data.iterrows()]
    assert all(p.endswith(b"\n") and p.count(b"\n") == 1 for p in data["payload"])   # one line per segment
    hellos = {frm: obj for frm, obj in lines if obj["t"] == "hello"}
    assert set(hellos) == {"client", "server"} and hellos["client"]["id"] == f"{ALICE_ID:016x}"
    (i, msg), = [(i, row) for i, row in data.iterrows() if json.loads(row["payload"])["t"] == "msg"]
    body = json.loads(msg["payload"])
    assert msg["from"] == "client" and body["text"] == TEXT and body["hops"] == 0
    acked = seg[(seg.index > i) & (seg["from"] == "server")].iloc[0]
    assert acked["ack"] == msg["seq"] + msg["len"]                           # bob acknowledges the line
    assert seg["flags"].str.contains("F").sum() == 2 and not seg["flags"].str.contains("R").any()


def test_the_recorded_link_is_one_whole_connection():
    check_link(list(pcap.read(RECORDED)))


def test_a_live_capture_of_the_link_on_loopback():
    need_root("a packet socket on lo")
    records, heard = capture_link()
    assert heard == [TEXT]
    check_link(records)

