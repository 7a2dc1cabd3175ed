"""Eight peers, each in its own namespace of the lab's `lan`, discovering each other by multicast on eth0:
discovery within a bound, every message exactly once everywhere, a killed peer noticed within the
timeout, a partition (the switch port down) and its healing as ``netstudy.p2p.core`` documents, hostile
datagrams and lines ignored. Then five of them by IPv6 link-local multicast, and by broadcast (the
fallback when the link takes no multicast, and forced by the option)."""
from __future__ import annotations

import collections
import socket
import time

import pytest
from conftest import need_namespaces, need_root

pytestmark = [pytest.mark.lab, pytest.mark.root]
N = 8
INTERVAL, TIMEOUT = 0.3, 1.5
DISCOVERY_BOUND = 5.0         # s: a few heartbeats; measured ~0.3-1 s


@pytest.fixture(scope="module")
def lab():
    need_root("building the lab")
    need_namespaces()
    from netstudy.lab import Lab
    with Lab("lan", hosts=N) as lab:
        yield lab


@pytest.fixture
def swarm(lab):
    from netstudy.p2p.swarm import Swarm
    hosts = [f"h{i}" for i in range(1, N + 1)]
    with Swarm(lab.popen, hosts, interval=INTERVAL, timeout=TIMEOUT, links=2) as sw:
        yield sw


def counts(agent, prefix):
    return collections.Counter(m["text"] for m in agent.messages() if m["text"].startswith(prefix))


def everyone_once(sw, texts, agents=None, timeout=5.0):
    """True when every agent (of ``agents``) delivered each text exactly once (after waiting for them)."""
    agents = agents or sw.running()
    end = time.monotonic() + timeout
    while time.monotonic() < end and not all(set(counts(a, "")) >= set(texts) for a in agents):
        time.sleep(0.05)
    time.sleep(0.3)               # a duplicate would arrive now
    return all(all(counts(a, "")[t] == 1 for t in texts) for a in agents)


def test_every_peer_discovers_every_other_within_the_bound(swarm):
    took = swarm.converged(DISCOVERY_BOUND)
    assert took is not None, [a.state()["alive"] for a in swarm.agents]
    assert swarm.linked(DISCOVERY_BOUND)


def test_a_message_from_every_peer_reaches_every_other_exactly_once(swarm):
    assert swarm.converged(DISCOVERY_BOUND) is not None and swarm.linked(DISCOVERY_BOUND)
    time.sleep(2 * INTERVAL)                       # the ring's last links settle
    texts = []
    for a in swarm.agents:
        texts.append(f"from-{a.name}")
        a.send(say=texts[-1])
    assert everyone_once(swarm, texts)
    hops = [m["hops"] for a in swarm.agents for m in a.messages()]
    assert max(hops) >= 2                           # gossip: some peers had no direct link to the origin


def test_a_killed_peer_is_noticed_within_the_timeout(swarm):
    assert swarm.converged(DISCOVERY_BOUND) is not None
    victim = swarm["p5"]
    marks = {a.name: len(a.events) for a in swarm.agents}
    victim.send(crash=True)                         # os._exit: no bye, as kill -9
    killed = time.monotonic_ns()
    victim.proc.wait(5)
    for a in swarm.running():
        ev = a.wait(lambda e: e.get("ev") == "leave" and e["name"] == "p5", TIMEOUT + 2 * INTERVAL + 1,
                    marks[a.name])
        assert ev is not None, a.name
        assert (ev["at_ns"] - killed) / 1e9 <= TIMEOUT + 2 * INTERVAL + 0.5
    texts = ["after-the-crash"]
    swarm["p1"].send(say=texts[0])
    assert everyone_once(swarm, texts)              # the ring re-formed without p5


def test_a_partition_and_its_healing_behave_as_documented(lab, swarm):
    assert swarm.converged(DISCOVERY_BOUND) is not None and swarm.linked(DISCOVERY_BOUND)
    cut = ["h1", "h2"]                              # their switch ports down: each alone
    inside = [a for a in swarm.agents if a.host not in cut]
    alone = [a for a in swarm.agents if a.host in cut]
    for h in cut:
        lab.run("sw0", ["ip", "link", "set", h, "down"], check=True)
    try:
        time.sleep(TIMEOUT + 3 * INTERVAL)
        for a in inside:                            # the connected side declares the cut peers gone
            assert sorted(a.state()["alive"]) == sorted(b.name for b in inside if b is not a)
        for a in alone:
            assert a.state()["alive"] == []
        inside[0].send(say="during-the-partition")
        assert everyone_once(swarm, ["during-the-partition"], inside)      # the connected side: exactly once
    finally:
        marks = {a.name: len(a.events) for a in swarm.agents}
        for h in cut:
            lab.run("sw0", ["ip", "link", "set", h, "up"], check=True)
    healed = swarm.converged(DISCOVERY_BOUND + TIMEOUT)
    assert healed is not None
    for a in swarm.agents:                          # the peers declared gone come back: a join event each
        back = {e["name"] for e in a.events[marks[a.name]:] if e.get("ev") == "join"}
        assert back == ({b.name for b in alone} if a in inside else {b.name for b in swarm.agents if b is not a}), \
            (a.name, back)
    assert swarm.linked(DISCOVERY_BOUND)
    time.sleep(2 * INTERVAL)
    for a in alone:                                 # no store and forward: never delivered on the other side
        assert counts(a, "during-the-partition")["during-the-partition"] == 0
    swarm["p3"].send(say="after-healing")
    assert everyone_once(swarm, ["after-healing"])


def _hostile(group: str, port: int, tcp_port: int, target: str) -> int:
    import os
    import struct

    from netstudy.p2p.core import encode_announcement
    sent = 0
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    bad = [b"", b"NSP2", os.urandom(36), b"GET / HTTP/1.0\r\n\r\n", b"NSP2" + os.urandom(32),
           struct.pack("!4sBBHQI16s", b"NSP2", 1, 1, 0, 5, 1, b"zero-port"),
           struct.pack("!4sBBHQI16s", b"NSP2", 1, 1, 9, 5, 1, b"\x1b[2Jx"),
           encode_announcement("fake", 0xDEAD, 9) + b"extra"]
    for _ in range(50):             # paced: a burst past a socket's receive queue (~250 small datagrams) is
        for data in bad:            # dropped by the kernel before any peer's code could see it
            s.sendto(data, (group, port))
            sent += 1
        time.sleep(0.002)
    with socket.create_connection((target, tcp_port), timeout=3) as c:     # garbage on a link
        c.sendall(b"\xff\xfe\n" + b"x" * 20000 + b"\nnot json\n" + b'{"t":"msg"}\n')
        time.sleep(0.2)
    return sent


def test_hostile_packets_are_ignored_and_the_peers_keep_working(lab, swarm):
    from netstudy.p2p.core import DISCOVERY_GROUP, DISCOVERY_PORT
    assert swarm.converged(DISCOVERY_BOUND) is not None
    target = swarm["p2"]
    port = next(e["port"] for e in target.events if e.get("ev") == "ready")
    sent = lab.call("scanner", _hostile, DISCOVERY_GROUP, DISCOVERY_PORT, port, str(lab.addresses["h2"].ipv4))
    assert sent == 400
    time.sleep(0.5)
    assert all(a.proc.poll() is None for a in swarm.agents)
    stats = [a.state()["stats"] for a in swarm.agents]
    assert all(s.get("bad announcements", 0) >= 300 for s in stats), stats
    assert swarm.converged(DISCOVERY_BOUND) is not None                 # nobody took "fake" or the junk in
    assert all("fake" not in a.state()["alive"] for a in swarm.agents)
    swarm["p4"].send(say="still-working")
    assert everyone_once(swarm, ["still-working"])


# ------------------------------------------------------------------ the other two ways to be discovered
FIVE = [f"h{i}" for i in range(1, 6)]


def _five_discover_and_gossip(sw):
    assert sw.converged(DISCOVERY_BOUND) is not None, [a.state()["alive"] for a in sw.agents]
    assert sw.linked(DISCOVERY_BOUND)
    time.sleep(2 * INTERVAL)
    texts = [f"from-{a.name}" for a in sw.agents]
    for a, text in zip(sw.agents, texts, strict=True):
        a.send(say=text)
    assert everyone_once(sw, texts)


def test_five_peers_discover_each_other_by_ipv6_link_local_multicast(lab):
    """The lab sets accept_dad=0 (netstudy.lab.plan.SYSCTL_EVERY): link-local addresses are usable at once."""
    from netstudy.p2p.core import DISCOVERY_GROUP6
    from netstudy.p2p.swarm import Swarm
    with Swarm(lab.popen, FIVE, interval=INTERVAL, timeout=TIMEOUT, links=2, family=6) as sw:
        assert all(a.events[0]["discovery"] == f"[{DISCOVERY_GROUP6}%eth0]:47100" for a in sw.agents)
        _five_discover_and_gossip(sw)
        state = sw["p1"].state()
        addresses = {row["peer"]: row["address"] for row in state["table"]}
        for a in sw.agents[1:]:            # each known by its link-local address with its scope
            link_local = lab.addresses[a.host].link_local          # "fe80::…%eth0"
            assert addresses[a.name].startswith(f"[{link_local}]:"), (addresses, link_local)


def test_without_multicast_on_the_link_the_peers_fall_back_to_broadcast(lab):
    """``ip link set eth0 multicast off`` in h1..h5: no peer can use multicast, each announces to 10.0.0.255."""
    from netstudy.p2p.swarm import Swarm
    broadcast = lab.addresses["h1"].interfaces[0].ipv4.network.broadcast_address      # 10.0.0.255
    for h in FIVE:
        lab.run(h, ["ip", "link", "set", "eth0", "multicast", "off"], check=True)
    try:
        with Swarm(lab.popen, FIVE, interval=INTERVAL, timeout=TIMEOUT, links=2) as sw:
            assert {a.events[0]["discovery"] for a in sw.agents} == {f"{broadcast}:47100"}
            _five_discover_and_gossip(sw)
            assert all(any("announcing by broadcast" in line for line in a.state()["logs"]) for a in sw.agents)
    finally:
        for h in FIVE:
            lab.run(h, ["ip", "link", "set", "eth0", "multicast", "on"], check=True)


def test_broadcast_forced_by_the_option(lab):
    from netstudy.p2p.swarm import Swarm
    with Swarm(lab.popen, FIVE, interval=INTERVAL, timeout=TIMEOUT, links=2, broadcast=True) as sw:
        broadcast = lab.addresses["h1"].interfaces[0].ipv4.network.broadcast_address
        assert {a.events[0]["discovery"] for a in sw.agents} == {f"{broadcast}:47100"}
        _five_discover_and_gossip(sw)
