"""Five peers in one process on loopback (multicast on lo, TTL 0: no root, nothing leaves the machine),
and the CLI: two terminal peers talking, control characters shown escaped, one-line errors."""
from __future__ import annotations

import random
import subprocess
import sys
import threading
import time

import pytest

from netstudy.p2p import Peer

NAMES = ["alice", "bob", "carol", "dave", "eve"]


@pytest.fixture
def peers():
    dport = random.randrange(40000, 50000)
    ps = [Peer(n, discovery_port=dport, interval=0.1, timeout=0.6, links=1).start() for n in NAMES]
    yield ps
    for p in ps:
        p.stop()


def test_loopback_peers_find_each_other_and_gossip_exactly_once(peers):
    assert all(p.wait_for(lambda p: len(p.node.alive()) == 4, 5) for p in peers)
    assert all(p.address[0] == "127.0.0.1" for p in peers)
    assert all(p.wait_for(lambda p: len(p.node.neighbours()) == 2, 5) for p in peers)    # a ring
    time.sleep(0.3)
    for p in peers:
        p.say(f"hi from {p.name}")
    for p in peers:
        assert p.wait_for(lambda p: len([r for r in p.records if r.kind == "message"]) == 5, 5)
    time.sleep(0.2)
    for p in peers:
        texts = sorted(r.text for r in p.records if r.kind == "message")
        assert texts == sorted(f"hi from {n}" for n in NAMES)
    hops = [a.hops for p in peers for a in p.messages() if a.via is not None]
    # 5 on a ring: 2 hops by the short way; the first copy to arrive is kept, it may have gone the long way
    assert 2 <= max(hops) <= 4 and min(hops) == 1


def test_a_stopped_peer_leaves_and_a_crashed_one_times_out(peers):
    assert all(p.wait_for(lambda p: len(p.node.alive()) == 4, 5) for p in peers)
    peers[1].stop()                                    # a bye: at once
    assert peers[0].wait_for(lambda p: len(p.node.alive()) == 3, 0.5)
    t0 = time.monotonic()
    peers[2].stop(quiet=True)                          # no bye: the timeout
    assert peers[0].wait_for(lambda p: len(p.node.alive()) == 2, 3)
    assert time.monotonic() - t0 <= 0.6 + 0.3
    peers[3].whisper("alice", "psst")
    assert peers[0].wait_for(lambda p: any(r.text == "psst" for r in p.records), 3)
    assert not any(r.text == "psst" for r in peers[4].records)


def test_duplicate_names_are_told_apart_end_to_end():
    """Two peers both called bob: the others show ``bob#<id>`` for each, refuse an ambiguous /msg, and a message
    said to everyone reaches both bobs once."""
    from netstudy.errors import InputError
    dport = random.randrange(40000, 50000)
    ps = [Peer(n, discovery_port=dport, interval=0.1, timeout=0.6, links=2, peer_id=i + 1).start()
          for i, n in enumerate(["alice", "bob", "bob", "carol"])]
    try:
        alice = ps[0]
        assert all(p.wait_for(lambda p: len(p.node.alive()) == 3, 5) for p in ps)
        assert sorted(row["peer"] for row in alice.table()) == ["bob#0002", "bob#0003", "carol"]
        with pytest.raises(InputError, match="2 peers"):
            alice.whisper("bob", "which one?")
        assert all(p.wait_for(lambda p: len(p.node.neighbours()) >= 2, 5) for p in ps)
        alice.whisper("bob#0003", "only you")
        alice.say("to everyone")
        for p in ps[1:]:
            assert p.wait_for(lambda p: any(r.text == "to everyone" for r in p.records), 5)
        assert ps[2].wait_for(lambda p: any(r.text == "only you" for r in p.records), 5)
        time.sleep(0.2)
        assert [sum(r.text == "to everyone" for r in p.records) for p in ps] == [1, 1, 1, 1]
        assert not any(r.text == "only you" for p in (ps[1], ps[3]) for r in p.records)
    finally:
        for p in ps:
            p.stop()


def test_a_peer_vanishing_mid_message_delivers_nothing_half_and_breaks_nothing(peers):
    """A link that closes in the middle of a line: the half line is dropped with the link, never delivered,
    and the peer goes on (what the others say still arrives)."""
    import json
    import socket
    alice, bob = peers[0], peers[1]
    assert all(p.wait_for(lambda p: len(p.node.neighbours()) == 2, 5) for p in peers)
    hello = {"t": "hello", "id": "00000000000000ff", "name": "ghost", "port": 9}
    msg = json.dumps({"t": "msg", "id": "00000000000000ff-1", "from": "00000000000000ff", "name": "ghost",
                      "to": None, "lamport": 1, "ttl": 16, "hops": 0, "text": "half a line"})
    with socket.create_connection(alice.address, timeout=3) as ghost:
        ghost.sendall(json.dumps(hello).encode() + b"\n" + msg.encode()[:40])     # no newline: cut short
        assert alice.wait_for(lambda p: any(k.peer_id == 0xFF for k in p.node._links.values()), 3)
    assert alice.wait_for(lambda p: any("ghost" in line and "closed" in line for line in p.logs), 3), alice.logs
    bob.say("still here")
    assert alice.wait_for(lambda p: any(r.text == "still here" for r in p.records), 5)
    time.sleep(0.2)
    assert not any("half" in r.text for p in peers for r in p.records)


def _lines(proc):
    """Every stdout line of ``proc``, collected by a thread into a list."""
    got: list[str] = []

    def read():
        for line in proc.stdout:
            got.append(line)
    threading.Thread(target=read, daemon=True).start()
    return got


def _until(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end and not pred():
        time.sleep(0.05)
    return pred()


def test_two_terminal_peers():
    dport = str(random.randrange(40000, 50000))
    cmd = [sys.executable, "-m", "netstudy.cli", "p2p"]
    procs = {n: subprocess.Popen(cmd + [n, "--discovery-port", dport, "--interval", "0.1"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True) for n in ("alice", "bob")}
    out = {n: _lines(p) for n, p in procs.items()}
    alice, bob = procs["alice"], procs["bob"]
    assert alice.stdin and bob.stdin
    assert _until(lambda: any("bob joined" in x for x in out["alice"]) and any("alice joined" in x for x in out["bob"]))
    time.sleep(0.3)                                    # the link is up
    bob.stdin.write("evil \x1b[2J\x07 text\n/msg alice secret\n/msg nobody x\n/peers\n")
    bob.stdin.flush()
    assert _until(lambda: any("secret" in x for x in out["alice"]))
    bob.stdin.write("/quit\n")
    bob.stdin.flush()
    bob.wait(10)
    assert _until(lambda: any("bob left" in x for x in out["alice"]))
    alice.stdin.close()                                # end of input: alice leaves too
    alice.wait(10)
    time.sleep(0.1)
    out_a, out_b = "".join(out["alice"]), "".join(out["bob"])
    assert "<bob> evil \\x1b[2J\\x07 text" in out_a and "\x1b" not in out_a
    assert "*bob* secret" in out_a and "*** bob left (said bye)" in out_a
    assert "no peer called 'nobody'" in out_b and "alice " in out_b and "alive" in out_b


@pytest.mark.parametrize("argv, said", [
    (["bad name"], "peer name 'bad name'"), (["x", "--port", "70000"], "--port"),
    (["x", "--broadcast"], "needs an interface"), (["x", "--iface", "nosuch0"], "no interface named"),
    (["x", "--interval", "5", "--timeout", "2"], "must be longer than the interval"),
    (["x", "-6"], "Linux does not carry over lo"), (["x", "-6", "--iface", "lo"], "on loopback use IPv4"),
    (["x", "-6", "--iface", "nosuch0"], "no interface named"),
    (["x", "-6", "--broadcast", "--iface", "lo"], "no broadcast"),
    (["x", "-4", "-6"], "not allowed with"),
])
def test_cli_errors_are_one_line(argv, said):
    proc = subprocess.run([sys.executable, "-m", "netstudy.cli", "p2p", *argv], capture_output=True, text=True,
                          timeout=20, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and said in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
