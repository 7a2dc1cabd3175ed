"""The port scanner against nmap, port by port: in the lab's `firewalled` topology (nmap run in the same
namespace) and on loopback; full-range connect scans of loopback never report a port nobody listens
on (self-connect); without privilege the connect scan works and SYN / raw UDP say what they need."""
from __future__ import annotations

import socket
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from conftest import need_root, need_user_namespaces, netstudy_unprivileged, tool

NETSTUDY = [sys.executable, "-m", "netstudy.cli"]
TARGET = "10.0.0.10"
LAB_TCP = "21-26,53,79-81,110,113,135,139,443,445,8080"
LAB_UDP = "53,67-69,123,137,161,500,514"
FLAGS = {"connect": "-sT", "syn": "-sS", "udp": "-sU"}


def nmap_states(xml: str) -> dict[int, str]:
    """``{port: state}`` from ``nmap -oX -`` (every port listed: ``--reason`` and no ignored states)."""
    root = ET.fromstring(xml)
    states = {int(p.get("portid")): p.find("state").get("state") for p in root.iter("port")}
    for extra in root.iter("extraports"):           # collapsed groups, should any remain
        raise AssertionError(f"nmap collapsed ports: {extra.attrib}")
    return states


def nmap_argv(scan: str, ports: str, target: str) -> list[str]:
    return [tool("nmap"), "-n", "-Pn", FLAGS[scan], "-p", ports, "--reason", "-v", "-d", "--max-retries", "2",
            "-oX", "-", target]


def _scan(target: str, ports: str, scan: str, wait: float = 1.0, mechanism: str = "auto"):
    from netstudy.portscan import portscan
    return portscan(target, ports, scans=scan, timeout=wait, mechanism=mechanism)


# (scan, mechanism asked, mechanism used): the SYN scan reads its answers from a packet ring, or with
# mechanism="raw" from a raw socket (the lesson's way); both must agree with nmap
MECHANISMS = [("connect", "auto", "connect"), ("syn", "auto", "ring"), ("syn", "raw", "raw"), ("udp", "auto", "raw")]
MECHANISM_IDS = ["connect", "syn-ring", "syn-raw", "udp"]


# -- the lab ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lab(firewalled_lab):
    return firewalled_lab


def expected(lab, protocol: str, ports: list[int], scan: str) -> dict[int, str]:
    """What the topology says each port is, in nmap's words for this scan type."""
    host = lab.hosts["target"]
    words = {"open": "open", "closed": "closed", "reject": "closed", "prohibit": "filtered",
             "drop": "open|filtered" if protocol == "udp" else "filtered"}
    return {port: words[host.port_state(protocol, port)] for port in ports}


@pytest.mark.lab
@pytest.mark.root
@pytest.mark.interop
@pytest.mark.parametrize(("scan", "mechanism", "used"), MECHANISMS, ids=MECHANISM_IDS)
def test_lab_every_port_state_equals_nmaps(lab, scan, mechanism, used):
    from netstudy.portscan import parse_ports
    protocol = "udp" if scan == "udp" else "tcp"
    ports = LAB_UDP if scan == "udp" else LAB_TCP
    numbers = list(parse_ports(ports).for_protocol(protocol))
    ours = lab.call("scanner", _scan, TARGET, ports, scan, 0.5, mechanism)
    theirs = nmap_states(lab.run("scanner", nmap_argv(scan, ports, TARGET), timeout=120).stdout)
    assert ours.states() == theirs
    assert ours.states() == expected(lab, protocol, numbers, scan)
    assert ours.mechanism == used


@pytest.mark.lab
@pytest.mark.root
def test_lab_reasons_are_nmaps(lab):
    syn = lab.call("scanner", _scan, TARGET, "22,23,25,113,445", "syn", 0.5)
    assert {p: syn.get(p).reason for p in (22, 23, 25, 113, 445)} == {
        22: "syn-ack", 23: "reset", 25: "no-response", 113: "reset", 445: "admin-prohibited"}
    assert syn.get(22).ttl == 64
    connect = lab.call("scanner", _scan, TARGET, "22,23,25,445", "connect", 0.5)
    assert {p: connect.get(p).reason for p in (22, 23, 25, 445)} == {
        22: "syn-ack", 23: "conn-refused", 25: "no-response", 445: "host-unreach"}
    udp = lab.call("scanner", _scan, TARGET, "53,69,137,161", "udp", 0.5)
    assert {p: udp.get(p, "udp").reason for p in (53, 69, 137, 161)} == {
        53: "udp-response", 69: "no-response", 137: "admin-prohibited", 161: "port-unreach"}


@pytest.mark.lab
@pytest.mark.root
def test_lab_unprivileged_udp_uses_connected_sockets_and_agrees(lab):
    need_user_namespaces()
    ours = lab.call("scanner", _scan, TARGET, LAB_UDP, "udp", 0.5, unprivileged=True)
    raw = lab.call("scanner", _scan, TARGET, LAB_UDP, "udp", 0.5)
    assert ours.mechanism == "datagram" and ours.states() == raw.states()


@pytest.mark.lab
@pytest.mark.root
def test_lab_banners_and_cli(lab):
    out = lab.run("scanner", NETSTUDY + ["portscan", TARGET, "-p", "22,23,25,80", "--banners", "--timeout", "0.5"],
                  timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "PORT   STATE    SERVICE REASON" in lines
    assert "22/tcp open     ssh     syn-ack" in lines and "|_banner: SSH-2.0-netstudy_lab" in lines
    assert "25/tcp filtered smtp    no-response" in lines


# -- loopback -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def listeners():
    """20 TCP listeners and 3 UDP sockets on loopback, for the scans to find."""
    tcp, udp = [], []
    for _ in range(20):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        tcp.append(s)
    for _ in range(3):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        udp.append(u)
    yield [s.getsockname()[1] for s in tcp], [u.getsockname()[1] for u in udp]
    for s in tcp + udp:
        s.close()


def listening_tcp_ports() -> set[int]:
    """Every TCP port something listens on now (IPv4 and IPv6 wildcard listeners both take 127.0.0.1)."""
    ports = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(path) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                if state == "0A":
                    ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


@pytest.mark.live
@pytest.mark.interop
@pytest.mark.parametrize(("scan", "mechanism", "used"), MECHANISMS, ids=MECHANISM_IDS)
def test_loopback_states_equal_nmaps(listeners, scan, mechanism, used):
    if scan != "connect":
        need_root("raw sockets")
    tcp, udp = listeners
    chosen = (udp if scan == "udp" else tcp[:5]) + [1, 7, 9, 13, 19]
    ports = ",".join(map(str, sorted(chosen)))
    ours = _scan("127.0.0.1", ports, scan, 0.5, mechanism)
    assert ours.mechanism == used
    theirs = nmap_states(subprocess.run(nmap_argv(scan, ports, "127.0.0.1"), capture_output=True, text=True,
                                        timeout=120).stdout)
    assert ours.states() == theirs
    if scan == "udp":          # nobody answers on our UDP sockets: silent, like a firewall that drops
        assert all(ours.get(p, "udp").state.value == "open|filtered" for p in udp)
        assert any("ICMP errors a second" in note for note in ours.notes)
    else:
        assert set(ours.ports("open")) == set(tcp[:5])


@pytest.mark.live
@pytest.mark.slow
def test_full_range_connect_scans_never_report_a_port_without_a_listener(listeners):
    tcp, _ = listeners
    self_connects = 0
    for _ in range(5):
        before = listening_tcp_ports()
        result = _scan("127.0.0.1", "-", "connect")
        after = listening_tcp_ports()
        found = set(result.ports("open"))
        assert found <= before | after, f"open without a listener: {sorted(found - before - after)}"
        assert set(tcp) <= found and len(result.records) == 65535
        self_connects += result.self_connects
    print(f"self-connects caught and re-sent over 5 full scans: {self_connects}")


# -- without privilege ---------------------------------------------------------------------------------
@pytest.mark.live
def test_unprivileged_connect_scan_works(listeners):
    tcp, _ = listeners
    out = netstudy_unprivileged("portscan", "127.0.0.1", "-p", f"1,{tcp[0]}")
    assert out.returncode == 0, out.stderr
    assert f"{tcp[0]}/tcp" in out.stdout and "syn-ack" in out.stdout


@pytest.mark.live
@pytest.mark.parametrize("argv, words", [
    (["-sS"], "a SYN scan (-sS) needs a raw socket: run as root or give the interpreter CAP_NET_RAW"),
    (["-sU", "--mechanism", "raw"], "a raw UDP scan (-sU --mechanism raw) needs a raw socket"),
])
def test_unprivileged_syn_and_raw_udp_say_what_they_need(argv, words):
    out = netstudy_unprivileged("portscan", "127.0.0.1", "-p", "22", *argv)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("netstudy portscan: ") and words in out.stderr
    assert "-sT" in out.stderr and "work" in out.stderr and len(out.stderr.splitlines()) == 1


@pytest.mark.live
def test_unprivileged_udp_scan_falls_back_to_connected_sockets():
    out = netstudy_unprivileged("portscan", "127.0.0.1", "-sU", "-p", "7,9", "--timeout", "0.3")
    assert out.returncode == 0, out.stderr
    assert "(datagram)" in out.stdout and "port-unreach" in out.stdout


@pytest.mark.parametrize("argv, words", [
    (["127.0.0.1", "-p", "99999"], "out of range"),
    (["127.0.0.1", "-p", "http"], "not a port number"),
    (["no-such-host.invalid"], "no-such-host.invalid"),
    (["127.0.0.1", "-sT", "-sS"], "choose one"),
    (["127.0.0.1", "--top-ports", "0"], "top ports must be a whole number from 1 to 65535"),
])
def test_cli_errors_are_one_line_with_status_2(argv, words):
    out = subprocess.run(NETSTUDY + ["portscan", *argv], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and words in out.stderr and len(out.stderr.splitlines()) == 1
    assert "Traceback" not in out.stderr


@pytest.mark.live
def test_cli_writes_normal_and_json_files(listeners, tmp_path):
    tcp, _ = listeners
    normal, js = tmp_path / "scan.txt", tmp_path / "scan.json"
    out = subprocess.run(NETSTUDY + ["portscan", "127.0.0.1", "-p", f"1-100,{tcp[0]}", "-oN", str(normal),
                                     "-oJ", str(js)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert normal.read_text() == out.stdout
    assert "Not shown: 100 closed tcp ports (conn-refused)" in out.stdout
    from netstudy.portscan import ScanResult
    assert ScanResult.from_json(js.read_text()).ports() == [tcp[0]]
    assert "it/s" not in out.stderr                         # no progress bar when not on a terminal


@pytest.mark.live
def test_top_ports_come_from_nmap_services():
    from netstudy.portscan import portscan, services
    result = portscan("127.0.0.1", None, top_ports=10)
    assert sorted(r.port for r in result.records) == sorted(services().top(10))
    if services().source.endswith("nmap-services"):
        assert {80, 22, 443} <= {r.port for r in result.records}


@pytest.mark.live
def test_the_answer_ring_hears_each_loopback_packet_once():
    """On lo a packet socket sees every packet going out and coming in; the SYN scan's ring filter
    (incoming_only, libpcap's ``inbound``) lets the kernel queue only the second copy."""
    need_root("a packet socket")
    from netstudy.net import route_interface
    from netstudy.net.filter import incoming_only
    from netstudy.net.packet import RingCapture
    from netstudy.wire.bpf import compile_filter
    assert route_interface("127.0.0.1") == route_interface("127.3.2.1") == "lo"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        program = compile_filter(f"udp and dst port {sink.getsockname()[1]}", live=True)
        seen = {}
        for name, filtered in (("both", program), ("inbound", incoming_only(program))):
            with RingCapture("lo", 256, program=filtered, loopback_twice=True, retire_ms=1) as ring:
                sink.sendto(b"once", sink.getsockname())
                packets = []
                while (base := ring.next_block(0.5)) is not None:        # every block, till none comes
                    packets += [ring.buffer[at + 28:at + length] for _, at, length in ring.packets_of(base)]
                    ring.release(base)
                seen[name] = packets
    assert seen == {"both": [b"once", b"once"], "inbound": [b"once"]}
