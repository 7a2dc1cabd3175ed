"""Traceroute and ping's ICMP errors in the lab's `routed` topology (scanner - r1 - r2 - target),
compared with what the topology says and with the system's traceroute and ping."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import need_namespaces, need_root, tool

pytestmark = [pytest.mark.lab, pytest.mark.root]
NETSTUDY = [sys.executable, "-m", "netstudy.cli"]


@pytest.fixture(scope="module")
def lab():
    need_root("building the lab")
    need_namespaces()
    from netstudy.lab import Lab
    with Lab("routed") as lab:
        lab.open_ping_group_range("scanner")
        yield lab


def shape(text: str) -> list[str]:
    text = re.sub(r"(?<![\d.])\d+\.\d+(?![\d.])", "F", text)          # times, not addresses
    return re.sub(r"time \d+ms", "time Nms", text).splitlines()


def target(lab, version: int) -> str:
    addresses = lab.addresses["target"]
    return addresses.ipv4 if version == 4 else addresses.ipv6


def trace(host: str, method: str):
    from netstudy.icmp import traceroute
    return traceroute(host, method=method, wait=2.0)


@pytest.mark.parametrize("unprivileged", [False, True], ids=["root", "unprivileged"])
@pytest.mark.parametrize("version", [4, 6], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("method", ["icmp", "udp"])
def test_traceroute_lists_the_routers_in_order(lab, method, version, unprivileged):
    result = lab.call("scanner", trace, str(target(lab, version)), method, unprivileged=unprivileged)
    expected = lab.topology.hops("scanner", "target", version)
    assert [hop.ttl for hop in result.hops] == list(range(1, len(expected) + 1))
    assert [hop.addresses for hop in result.hops] == [[address] for address in expected]
    assert all(p.rtt_ns is not None and 0 < p.rtt_ns < 1e9 for hop in result.hops for p in hop.probes)
    assert result.reached and result.addresses() == expected
    mechanism = "raw" if not unprivileged else {"icmp": "datagram", "udp": "recverr"}[method]
    assert result.mechanism == mechanism
    last = result.hops[-1].probes[0]
    if method == "icmp":
        assert last.icmp_type == (0 if version == 4 else 129)        # echo reply from the target
    else:
        assert (last.icmp_type, last.icmp_code, last.mark) == ((3, 3, "") if version == 4 else (1, 4, ""))
    assert all(p.icmp_type == (11 if version == 4 else 3) for hop in result.hops[:-1] for p in hop.probes)


@pytest.mark.interop
@pytest.mark.parametrize("flags", [["-I"], ["-U"], ["-6", "-I"]], ids=["icmp", "udp", "icmp6"])
def test_cli_prints_what_traceroute_n_prints(lab, flags):
    traceroute = tool("traceroute")
    host = str(target(lab, 6 if "-6" in flags else 4))
    theirs_flags = [f for f in flags if f != "-U"]               # the system traceroute's default is UDP
    # warm the path first: a probe that waits on neighbour discovery in a router can come back as "*"
    lab.run("scanner", [tool("ping"), "-c", "2", "-i", "0.2", "-W", "2", host])
    theirs = lab.run("scanner", [traceroute, "-n", *theirs_flags, host])
    ours = lab.run("scanner", [*NETSTUDY, "traceroute", "-n", *flags, host])
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert shape(ours.stdout) == shape(theirs.stdout)
    assert len(shape(ours.stdout)) == 1 + len(lab.topology.hops("scanner", "target"))


@pytest.mark.interop
@pytest.mark.parametrize("unprivileged", [False, True], ids=["root", "unprivileged"])
@pytest.mark.parametrize("args", [["-c", "2", "-i", "0.2", "-t", "1", "10.0.3.10"], ["-c", "1", "10.0.9.1"],
                                  ["-6", "-c", "1", "-t", "1", "fd00:6e73:0:3::10"],
                                  ["-c", "2", "-i", "0.2", "10.0.3.10"]],
                         ids=["ttl-exceeded", "net-unreachable", "hop-limit", "two-routers"])
def test_ping_errors_print_as_iputils_prints_them(lab, args, unprivileged):
    theirs = lab.run("scanner", [tool("ping"), *args])
    ours = lab.run("scanner", [*NETSTUDY, "ping", *args], unprivileged=unprivileged)
    assert ours.returncode == theirs.returncode, ours.stderr
    assert shape(ours.stdout) == shape(theirs.stdout)


def ping_records(host: str, ttl: int | None):
    from netstudy.icmp import ping
    result = ping(host, count=2, interval=0.05, ttl=ttl, timeout=2)
    return result.mechanism, [(p.source, p.ttl, p.icmp_type, p.error) for p in result.records], \
        [p.quoted for p in result.records]


@pytest.mark.parametrize("unprivileged", [False, True], ids=["root", "unprivileged"])
def test_ping_records_say_who_answered_and_why(lab, unprivileged):
    from netstudy.wire import ICMPEcho, decode_ip
    mechanism, exceeded, quotes = lab.call("scanner", ping_records, "10.0.3.10", 2, unprivileged=unprivileged)
    assert mechanism == ("datagram" if unprivileged else "raw")
    # the second router drops it; its time-exceeded travels back one hop: TTL 64 - 1
    assert exceeded == [("10.0.2.1", 63, 11, "Time to live exceeded")] * 2
    if unprivileged:      # the error queue hands back our own request
        assert [ICMPEcho.parse(q).sequence for q in quotes] == [1, 2]
    else:                 # a raw socket sees the quote: the probe as r2 got it, its TTL run down to 1
        quoted = [decode_ip(q) for q in quotes]
        assert [(p.network.ttl, p.network.dst, p.transport.sequence) for p in quoted] == [(1, "10.0.3.10", 1),
                                                                                             (1, "10.0.3.10", 2)]
    _, replies, _ = lab.call("scanner", ping_records, "10.0.3.10", None, unprivileged=unprivileged)
    assert replies == [("10.0.3.10", 62, None, None)] * 2           # two routers on the way back


DUPLICATE_REPLIES = """table ip netstudy_dup {
 chain out {
  type filter hook output priority 0;
  icmp type echo-reply dup to 10.0.3.2 device "eth0"
 }
}
"""


@pytest.mark.parametrize("unprivileged", [False, True], ids=["root", "unprivileged"])
def test_duplicate_replies_are_counted_like_iputils(lab, unprivileged):
    """The target sends every echo reply twice (nftables `dup`): real duplicates on the wire."""
    tool("nft")
    assert lab.run("target", ["nft", "-f", "-"], input=DUPLICATE_REPLIES).returncode == 0
    try:
        mechanism, records = lab.call("scanner", ping_dup_records, "10.0.3.10", unprivileged=unprivileged)
        out = lab.run("scanner", [*NETSTUDY, "ping", "-c", "3", "-i", "0.1", "10.0.3.10"], unprivileged=unprivileged)
    finally:
        lab.run("target", ["nft", "delete", "table", "ip", "netstudy_dup"])
    assert mechanism == ("datagram" if unprivileged else "raw")
    first = {seq: (rtt, ttl) for seq, dup, rtt, ttl in records if not dup}
    dups = [(seq, rtt, ttl) for seq, dup, rtt, ttl in records if dup]
    assert sorted(first) == [1, 2, 3] and {seq for seq, _, _ in dups} >= {1, 2}
    assert all(rtt >= first[seq][0] and ttl == 62 for seq, rtt, ttl in dups)
    lines = out.stdout.splitlines()
    assert re.fullmatch(r"64 bytes from 10\.0\.3\.10: icmp_seq=1 ttl=62 time=[\d.]+ ms \(DUP!\)", lines[2])
    assert re.match(r"3 packets transmitted, 3 received, \+[23] duplicates, 0% packet loss", lines[-2])


def ping_dup_records(host: str):
    from netstudy.icmp import ping
    result = ping(host, count=3, interval=0.1, timeout=2)
    return result.mechanism, [(p.seq, p.duplicate, p.rtt_ns, p.ttl) for p in result.records]


SLOW_RESPONDER = """
import select, socket, sys, time
from netstudy.wire import ICMPEcho, decode_ip
delays = {1: 0.4, 2: 0.0}              # seconds to hold the reply to each sequence number
pending, answered = [], []
with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as sock:
    print("ready", flush=True)
    deadline = time.monotonic() + 10
    while len(answered) < len(delays) and time.monotonic() < deadline:
        if select.select([sock], [], [], 0.01)[0]:
            packet = decode_ip(sock.recv(65535))
            echo = packet.transport
            if isinstance(echo, ICMPEcho) and echo.type == 8 and echo.sequence in delays:
                reply = bytes(ICMPEcho(type=0, identifier=echo.identifier, sequence=echo.sequence) / echo.payload)
                pending.append((time.monotonic() + delays[echo.sequence], reply, packet.network.src, echo.sequence))
        for item in sorted(p for p in pending if p[0] <= time.monotonic()):
            sock.sendto(item[1], (item[2], 0))
            answered.append(item[3])
            pending.remove(item)
print(answered, flush=True)
"""


def test_late_and_out_of_order_replies(lab):
    """A user-space responder on `target` (the kernel's own echo answers off) holds the reply to probe
    1 for 0.4 s: probe 2's reply overtakes it, and with a 0.2 s timeout probe 1's reply is late. Both
    still count as received, as iputils counts them."""
    lab.sysctl("target", "net.ipv4.icmp_echo_ignore_all", "1")
    try:
        responder = lab.popen("target", [sys.executable, "-c", SLOW_RESPONDER], stdout=subprocess.PIPE, text=True)
        assert responder.stdout.readline().strip() == "ready"
        records, arrival, summary = lab.call("scanner", late_records, "10.0.3.10")
        out, _ = responder.communicate(timeout=15)
    finally:
        lab.sysctl("target", "net.ipv4.icmp_echo_ignore_all", "0")
    assert out.strip() == "[2, 1]"
    assert arrival == [2, 1]
    assert records == [(1, True, True), (2, False, False)]       # (seq, late, out_of_order)
    assert summary == (2, 2, 0)                                   # transmitted, received, duplicates


def late_records(host: str):
    from netstudy.icmp import ping
    result = ping(host, count=2, interval=0.05, timeout=0.2, deadline=3)
    s = result.summary
    arrival = [p.seq for p in sorted(result.records, key=lambda p: p.received_ns)]
    return [(p.seq, p.late, p.out_of_order) for p in result.records], arrival, (s.transmitted, s.received, s.duplicates)
