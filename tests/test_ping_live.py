"""Ping on loopback against real judges: the Linux kernel answers our requests, tshark reads them,
iputils ping prints the same shapes; the unprivileged ICMP socket and the privilege error."""
from __future__ import annotations

import calendar
import json
import re
import signal
import statistics
import subprocess
import sys
import time

import pytest
from conftest import need_raw, need_root, need_user_namespaces, tool

from netstudy.icmp import ping, summarize

NETSTUDY = [sys.executable, "-m", "netstudy.cli"]
pytestmark = pytest.mark.live


def netstudy(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*NETSTUDY, *args], capture_output=True, text=True, timeout=60, **kw)


def shape(text: str) -> list[str]:
    """Output with the numbers that vary (times, RTTs) replaced, so two runs can be compared."""
    text = re.sub(r"(?<![\d.])\d+\.\d+(?![\d.])", "F", text)          # times, not addresses
    return re.sub(r"time \d+ms", "time Nms", text).splitlines()


@pytest.mark.root
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_the_kernel_answers_every_probe(host):
    need_raw()
    result = ping(host, count=5, interval=0.01)
    assert result.mechanism == "raw"
    assert [r.seq for r in result.records] == [1, 2, 3, 4, 5]
    assert all(r.source == host and r.ttl == 64 and r.size == 64 and r.error is None for r in result.records)
    assert all(0 < r.rtt_ns < 50_000_000 for r in result.records)
    s = result.summary
    assert (s.transmitted, s.received, s.loss_percent, s.duplicates, s.errors) == (5, 5, 0.0, 0, 0)
    assert s == summarize(result.records, int(s.time_ms * 1e6))
    rtts = [r.rtt_ns / 1e6 for r in result.records]
    assert (s.min_ms, s.max_ms) == (min(rtts), max(rtts))
    assert s.avg_ms == pytest.approx(statistics.fmean(rtts))
    assert s.mdev_ms == pytest.approx(statistics.pstdev(rtts))
    frame = result.to_frame()
    assert list(frame["rtt_ms"]) == pytest.approx(rtts) and frame["ttl"].tolist() == [64] * 5


@pytest.mark.root
def test_flood_records_every_probe_among_another_pingers_replies(monkeypatch):
    """Interval 0 while iputils pings loopback too: our raw socket sees its replies as well. The reply
    each probe expects is taken on sight; the others are decoded in full and left out, as ever."""
    need_raw()
    from netstudy.icmp import engine
    decoded = []
    full = engine.read_ipv4_datagram
    monkeypatch.setattr(engine, "read_ipv4_datagram", lambda *a: decoded.append(1) or full(*a))
    other = subprocess.Popen([tool("ping"), "-q", "-i", "0.001", "-c", "1000", "127.0.0.1"], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert other.stdout.readline().startswith("PING 127.0.0.1")
        time.sleep(0.05)
        result = ping("127.0.0.1", count=3000, interval=0)
    finally:
        other.kill()
        other.wait(timeout=10)
    assert decoded, "no foreign datagram came by: the test proves nothing"
    assert [r.seq for r in result.records] == list(range(1, 3001))
    assert all(r.source == "127.0.0.1" and r.ttl == 64 and r.size == 64 and r.error is None and not r.duplicate
               and not r.corrupted and not r.late and not r.out_of_order and r.received_ns - r.sent_ns == r.rtt_ns > 0
               for r in result.records)
    s = result.summary
    assert (s.transmitted, s.received, s.duplicates, s.errors, s.pipe) == (3000, 3000, 0, 0, 1)
    assert s == summarize(result.records, round(s.time_ms * 1e6), flood=True)


@pytest.mark.root
@pytest.mark.interop
def test_tshark_reads_our_requests_with_good_checksums(tmp_path):
    need_raw()
    tcpdump, tshark = tool("tcpdump"), tool("tshark")
    pcap = tmp_path / "ping.pcap"
    capture = subprocess.Popen([tcpdump, "-i", "lo", "-n", "--immediate-mode", "-U", "-w", str(pcap),
                                "icmp and host 127.0.0.1"], stderr=subprocess.PIPE, text=True)
    try:
        assert "listening on" in capture.stderr.readline()
        before = time.time()
        result = ping("127.0.0.1", count=4, interval=0.01, size=100)
        time.sleep(0.2)
    finally:
        capture.send_signal(signal.SIGINT)
        capture.wait(timeout=10)
    out = subprocess.run([tshark, "-n", "-r", str(pcap), "-T", "fields", "-E", "separator=/t", "-e", "icmp.type",
                          "-e", "icmp.ident", "-e", "icmp.seq", "-e", "icmp.checksum.status", "-e", "data.len",
                          "-e", "_ws.expert.severity", "-e", "icmp.data_time"],
                         capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    requests = [r for r in rows if r[0] == "8"]
    replies = [r for r in rows if r[0] == "0"]
    assert [int(r[2]) for r in requests] == [1, 2, 3, 4] and len(replies) == 4
    assert {int(r[1]) for r in requests + replies} == {result.identifier}
    assert all(r[3] == "1" for r in requests + replies), rows         # 1 = "Good" in tshark
    assert all(r[5] == "" for r in requests + replies), rows          # no expert warning or error
    # tshark takes the start of the payload for a timestamp (as it does with iputils' packets: 8 bytes
    # of it, the rest is data) and reads our send time out of it
    assert all(r[4] == "92" for r in requests)
    for r in requests:
        sent = calendar.timegm(time.strptime(r[6].split(".")[0], "%b %d, %Y %H:%M:%S"))
        assert abs(sent - before) < 3, r


@pytest.mark.root
@pytest.mark.interop
@pytest.mark.parametrize("args", [["-c", "3", "-i", "0.2", "127.0.0.1"], ["-q", "-c", "2", "-i", "0.2", "127.0.0.1"],
                                  ["-c", "2", "-i", "0.2", "-s", "8", "127.0.0.1"],
                                  ["-6", "-c", "2", "-i", "0.2", "::1"], ["-c", "2", "-i", "0.2", "localhost"],
                                  ["-c", "1", "-I", "127.0.0.1", "127.0.0.2"], ["-c", "1", "-I", "lo", "127.0.0.2"],
                                  ["-c", "1", "-t", "5", "-s", "1000", "127.0.0.1"]],
                         ids=["plain", "quiet", "untimed", "ipv6", "name", "source", "interface", "big"])
def test_cli_prints_what_iputils_prints(args):
    need_raw()
    theirs = subprocess.run([tool("ping"), *args], capture_output=True, text=True, timeout=30)
    ours = netstudy("ping", *args)
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert shape(ours.stdout) == shape(theirs.stdout)
    assert len(shape(ours.stdout)) >= 5
    assert shape(ours.stdout)[0].startswith("PING ")


def test_unknown_host_is_one_line():
    ours = netstudy("ping", "-c", "1", "no-such-host.invalid")
    theirs = subprocess.run([tool("ping"), "-c", "1", "no-such-host.invalid"], capture_output=True, text=True)
    assert ours.returncode == 2 and ours.stdout == ""
    reason = theirs.stderr.split(": ", 2)[2].strip()
    assert ours.stderr.splitlines() == ["netstudy ping: no-such-host.invalid: " + reason]


@pytest.mark.parametrize("args,words", [
    (["-c", "x"], "argument -c: count must be a whole number from 1 to 9223372036854775807, not 'x'"),
    (["-s", "70000"], "argument -s: size must be a whole number from 0 to 65527, not '70000'"),
    (["-c", "0"], "argument -c: count must be a whole number"),
    (["-t", "0"], "ttl must be a whole number from 1 to 255"),
    (["-c", "-1"], "argument -c: count must be a whole number"),      # a number, not "expected one argument"
    (["-c", "-inf"], "argument -c: count must be"), (["-W", "nan"], "argument -W: timeout must be a number above 0"),
    (["-i", "inf"], "argument -i: interval must be a number from 0 to 2147483, not 'inf'")])
def test_bad_arguments_are_one_line(args, words):
    ours = netstudy("ping", *args, "127.0.0.1")
    assert ours.returncode == 2 and ours.stdout == ""
    assert len(ours.stderr.splitlines()) == 1 and words in ours.stderr, ours.stderr


@pytest.mark.root
def test_ctrl_c_prints_the_summary():
    need_raw()
    proc = subprocess.Popen([*NETSTUDY, "ping", "-i", "0.1", "127.0.0.1"], stdout=subprocess.PIPE, text=True)
    lines = [proc.stdout.readline() for _ in range(4)]               # the header and three replies
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0 and lines[0].startswith("PING 127.0.0.1")
    tail = rest.splitlines()[-4:]
    assert tail[1] == "--- 127.0.0.1 ping statistics ---"
    sent, received = map(int, re.match(r"(\d+) packets transmitted, (\d+) received", tail[2]).groups())
    assert sent >= 3 and received >= 3
    assert re.fullmatch(r"rtt min/avg/max/mdev = [\d.]+/[\d.]+/[\d.]+/[\d.]+ ms", tail[3])


@pytest.mark.root
def test_async_pings_run_side_by_side():
    import asyncio

    from netstudy.icmp import ping_async, traceroute_async
    need_raw()

    async def both():
        return await asyncio.gather(ping_async("127.0.0.1", count=10, interval=0.05),
                                    ping_async("::1", count=10, interval=0.05), traceroute_async("127.0.0.2"))
    started = time.monotonic()
    four, six, trace = asyncio.run(both())
    assert time.monotonic() - started < 0.85           # side by side: one after the other takes >= 0.9 s
    assert four.summary.received == six.summary.received == 10
    assert trace.addresses() == ["127.0.0.2"]


@pytest.mark.root
def test_deadline_stops_sending():
    need_raw()
    started = time.monotonic()
    result = ping("127.0.0.1", count=None, interval=0.1, deadline=0.55)
    took = time.monotonic() - started
    assert 0.5 < took < 2.0
    assert 5 <= result.summary.transmitted <= 7 and result.summary.received == result.summary.transmitted


# -- without root ------------------------------------------------------------------------------------
UNPRIVILEGED_PING = """
import json, sys
from netstudy.icmp import ping
out = []
for host in ("127.0.0.1", "::1"):
    r = ping(host, count=3, interval=0.01)
    out.append({"mechanism": r.mechanism, "received": r.summary.received, "ttls": [p.ttl for p in r.records],
                "sources": [p.source for p in r.records], "id": r.identifier})
print(json.dumps(out))
"""


def in_open_namespace(argv: list[str]) -> subprocess.CompletedProcess:
    """Run ``argv`` as uid 65534 with no capability, in a fresh network namespace whose
    net.ipv4.ping_group_range is opened (per namespace: the machine's own setting is not touched)."""
    need_root("a network namespace of its own")
    need_user_namespaces()
    script = ('ip link set lo up && sysctl -qw net.ipv4.ping_group_range="0 2147483647" && '
              'exec unshare --user --map-user=65534 --map-group=65534 "$@"')
    return subprocess.run([tool("unshare"), "--net", "sh", "-c", script, "sh", *argv], capture_output=True,
                          text=True, timeout=60)


def test_unprivileged_icmp_socket_in_an_opened_namespace():
    proc = in_open_namespace([sys.executable, "-c", UNPRIVILEGED_PING])
    assert proc.returncode == 0, proc.stderr
    for run, host in zip(json.loads(proc.stdout), ("127.0.0.1", "::1"), strict=True):
        assert run["mechanism"] == "datagram" and run["received"] == 3
        assert run["ttls"] == [64, 64, 64] and run["sources"] == [host] * 3      # TTL from IP_RECVTTL


def test_interval_floor_for_users_is_iputils():
    ours = in_open_namespace([*NETSTUDY, "ping", "-c", "1", "-i", "0.001", "127.0.0.1"])
    theirs = in_open_namespace([tool("ping"), "-c", "1", "-i", "0.001", "127.0.0.1"])
    assert theirs.returncode == ours.returncode == 2
    assert theirs.stderr.strip().endswith("ping: cannot flood; minimal interval allowed for user is 2ms")
    assert ours.stderr.strip() == "netstudy ping: cannot flood; minimal interval allowed for user is 2ms"
    ok = in_open_namespace([*NETSTUDY, "ping", "-c", "2", "-i", "0.002", "127.0.0.1"])
    assert ok.returncode == 0 and "2 received" in ok.stdout


def test_without_either_privilege_the_error_says_both_ways_out():
    unshare = tool("unshare")
    need_user_namespaces()
    code = ("from netstudy.icmp import ping\n"
            "try:\n    ping('127.0.0.1', count=1)\n"
            "except PermissionError as e:\n    print(type(e).__name__ + ': ' + str(e))\n")
    proc = subprocess.run([unshare, "--user", "--map-user=65534", "--map-group=65534", sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.startswith("PrivilegeError: ICMP echo needs a raw ICMP socket (root or CAP_NET_RAW)")
    assert "net.ipv4.ping_group_range" in proc.stdout and "sysctl -w net.ipv4.ping_group_range=" in proc.stdout
    cli = subprocess.run([unshare, "--user", "--map-user=65534", "--map-group=65534", *NETSTUDY, "ping",
                          "127.0.0.1"], capture_output=True, text=True, timeout=60)
    assert cli.returncode == 2 and cli.stdout == ""
    assert len(cli.stderr.splitlines()) == 1 and cli.stderr.startswith("netstudy ping: ICMP echo needs a raw")
    trace = subprocess.run([unshare, "--user", "--map-user=65534", "--map-group=65534", *NETSTUDY, "traceroute",
                            "127.0.0.1"], capture_output=True, text=True, timeout=60)
    assert trace.returncode == 2 and len(trace.stderr.splitlines()) == 1
    assert "ping_group_range" in trace.stderr and "netstudy traceroute -U" in trace.stderr


def test_udp_traceroute_needs_no_privilege():
    unshare = tool("unshare")
    need_user_namespaces()
    proc = subprocess.run([unshare, "--user", "--map-user=65534", "--map-group=65534", *NETSTUDY, "traceroute",
                           "-U", "127.0.0.2"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = shape(proc.stdout)
    assert lines == ["traceroute to 127.0.0.2 (127.0.0.2), 30 hops max, 60 byte packets",
                     " 1  127.0.0.2  F ms  F ms  F ms"]
