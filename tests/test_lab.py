"""The lab: topologies as data, then real namespaces judged the way a user would (ping, traceroute,
sockets from inside the scanner), and teardown after success, exceptions, SIGTERM and SIGKILL."""
from __future__ import annotations

import errno
import multiprocessing
import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import into_gone_head, need_namespaces, need_user_namespaces, tool

from netstudy.errors import PrivilegeError
from netstudy.lab import (
    Host,
    Lab,
    LabError,
    Nic,
    Rule,
    Switch,
    Topology,
    build_plan,
    cleanup,
    firewalled,
    lan,
    load_topology,
    records,
    routed,
)
from netstudy.lab.system import RUN_DIR, check_privilege, lab_namespaces, run

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parent.parent
OFFICE = ROOT / "netstudy" / "data" / "topologies" / "office.toml"


def need_lab() -> None:
    need_namespaces()
    try:
        check_privilege()
    except PrivilegeError as exc:
        pytest.skip(str(exc))


def in_machine_namespace(lab: Lab) -> list[str]:
    """Links of the machine's own namespace that belong to ``lab`` (by name, peer namespace or MAC)."""
    macs = {i.mac for h in lab.topology.hosts for i in lab.topology.interfaces(h.name)}
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout.splitlines()
    return [line for line in links if f"netstudy-{lab.id}" in line or any(mac in line for mac in macs)]


def left_behind(lab_id: str) -> list[str]:
    return lab_namespaces(lab_id) + ([f"{lab_id}.json"] if (RUN_DIR / f"{lab_id}.json").exists() else [])


@pytest.fixture(scope="module")
def lan_lab():
    need_lab()
    with Lab(lan(hosts=6, silent=1)) as lab:
        yield lab


@pytest.fixture(scope="module")
def routed_lab():
    need_lab()
    with Lab("routed") as lab:
        yield lab


@pytest.fixture(scope="module")
def fw_lab():
    need_lab()
    with Lab("firewalled") as lab:
        yield lab


# -- topologies as data (no privilege needed) ----------------------------------------------------------
def test_lan_leaves_addresses_absent_and_mirrors_ipv4_in_ipv6_and_mac():
    topo = lan(hosts=20)
    live = [topo.addresses(h.name).ipv4 for h in topo.hosts if h.name != "scanner"]
    assert len(live) == 20 and live[:4] == ["10.0.0.10", "10.0.0.11", "10.0.0.13", "10.0.0.14"]
    assert topo.absent == ("10.0.0.12", "10.0.0.16", "10.0.0.20", "10.0.0.24", "10.0.0.28", "10.0.0.32")
    assert not set(topo.absent) & set(live)
    h1 = topo.addresses("h1")
    assert (h1.ipv6, h1.mac, h1.link_local) == ("fd00:6e73::10", "02:00:0a:00:00:0a", "fe80::aff:fe00:a%eth0")
    assert [h.name for h in lan(hosts=4, silent=2).hosts if not h.answers_ping] == ["h3", "h4"]


def test_routed_routes_and_expected_traceroute_hops():
    topo = routed(3)
    assert topo.hops("scanner", "target") == ["10.0.1.1", "10.0.2.1", "10.0.3.10"]
    assert topo.hops("target", "scanner") == ["10.0.3.2", "10.0.2.2", "10.0.1.2"]
    assert topo.hops("scanner", "target", 6) == ["fd00:6e73:0:1::1", "fd00:6e73:0:2::1", "fd00:6e73:0:3::10"]
    r1 = {(r.destination, r.gateway) for r in topo.routes("r1")}
    assert r1 == {("10.0.3.0/24", "10.0.2.1"), ("fd00:6e73:0:3::/64", "fd00:6e73:0:2::1")}
    scanner = {(r.destination, r.gateway) for r in topo.routes("scanner")}
    assert ("default", "10.0.1.1") in scanner and ("::/0", "fd00:6e73:0:1::1") in scanner


@pytest.mark.parametrize("build, message", [
    (lambda: Switch("sw0", "10.0.0.0/33"), "switch sw0: subnet '10.0.0.0/33'"),
    (lambda: Host("a-name-far-too-long", (Nic("sw0", "10.0.0.2"),)), "1-15 characters"),
    (lambda: Topology("t", (Switch("sw0", "10.0.0.0/24"),), (Host("scanner", (Nic("sw0", "10.0.1.2"),)),)),
     "10.0.1.2 is not a host address of sw0"),
    (lambda: Topology("t", (Switch("sw0", "10.0.0.0/24"),), (Host("scanner", (Nic("sw0", "10.0.0.2"),)),
                                                             Host("b", (Nic("sw0", "10.0.0.2"),)))),
     "already taken by scanner"),
    (lambda: Topology("t", (Switch("sw0", "10.0.0.0/24"),), (Host("scanner", (Nic("sw1", "10.0.0.2"),)),)),
     "no switch 'sw1'"),
    (lambda: Rule("block", "tcp", 22), "not one of drop, reject, prohibit"),
    (lambda: Rule("drop", "icmp", 7), "takes no port"),
    (lambda: load_topology("mesh"), "neither a built-in topology"),
])
def test_descriptions_are_checked_with_a_clear_message(build, message):
    with pytest.raises(LabError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()


def test_toml_file_and_dict_round_trip():
    topo = load_topology(OFFICE)
    assert topo.name == "office" and [r.name for r in topo.routers] == ["gw"]
    assert topo.hops("scanner", "web") == ["10.0.1.1", "10.0.2.80"]
    assert topo.host("web").port_state("tcp", 22) == "drop" and topo.host("web").port_state("tcp", 80) == "open"
    assert topo.host("web").services[0].banner.startswith(b"HTTP/1.0 200 OK\r\n")
    assert Topology.from_dict(topo.to_dict()) == topo


def test_a_toml_host_without_an_address_is_named(tmp_path):
    path = tmp_path / "noip.toml"
    path.write_text('[[switches]]\nname = "sw0"\nsubnet = "10.0.0.0/24"\n\n'
                    '[[hosts]]\nname = "scanner"\nswitch = "sw0"\nip = "10.0.0.2"\n\n'
                    '[[hosts]]\nname = "printer"\nswitch = "sw0"\n')
    with pytest.raises(LabError, match=r"^host printer: no ip \(give it switch and ip"):
        load_topology(path)
    with pytest.raises(LabError, match="^host printer: nic on switch sw0: ip 'ten' is not an IPv4 address"):
        Topology.from_dict({"switches": [{"name": "sw0", "subnet": "10.0.0.0/24"}],
                            "hosts": [{"name": "printer", "switch": "sw0", "ip": "ten"}]})
    for reserved in ("lo", "br0"):
        with pytest.raises(LabError, match=f"host name '{reserved}' is taken by the switch's own"):
            Host(reserved, (Nic("sw0", "10.0.0.2"),))


def test_plan_creates_links_inside_namespaces_only():
    plan = build_plan(firewalled(), "abc123")
    text = str(plan)
    assert "ip netns add netstudy-abc123-scanner" in text
    assert ("ip link add name target index 101 netns netstudy-abc123-sw0 type veth peer name eth0 address "
            "02:00:0a:00:00:0a netns netstudy-abc123-target") in text
    assert all(" netns netstudy-abc123-" in line for line in plan.links)   # never the machine's namespace
    assert "tcp dport 113 reject with tcp reset" in plan.firewall["target"]
    assert "icmp type echo-request drop" in plan.firewall["stealth"]


def test_draw_topology_labels_every_host_and_router():
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    from netstudy.lab import draw_topology
    for topo in (routed(3), firewalled(), lan(hosts=12, silent=1), load_topology(OFFICE)):
        fig = draw_topology(topo)
        texts = "\n".join(t.get_text() for t in fig.axes[0].texts)
        for host in topo.hosts:
            assert host.name in texts
            for nic in host.nics:
                assert nic.ip in texts
        assert all(a in texts for a in topo.absent)
        assert topo.name in fig.axes[0].get_title()
        import matplotlib.pyplot as plt
        plt.close(fig)


def test_without_privilege_a_clear_privilege_error():
    need_user_namespaces()                # a user namespace is how this test drops privilege
    unshare = tool("unshare")
    proc = subprocess.run([unshare, "--user", "--map-user=65534", "--map-group=65534",
                           sys.executable, "-m", "netstudy.cli", "lab", "up", "lan"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "CAP_SYS_ADMIN" in proc.stderr and "unshare --user --map-root-user --net --mount" in proc.stderr


# -- the lan ------------------------------------------------------------------------------------------
def test_lan_live_hosts_answer_ping_absent_and_silent_ones_do_not(lan_lab):
    fping = tool("fping")
    live = [lan_lab.addresses[h].ipv4 for h in lan_lab.hosts if h != "scanner"]
    out = lan_lab.run("scanner", [fping, "-a", "-r0", "-t300", *live, *lan_lab.absent]).stdout.split()
    silent = [lan_lab.addresses[h].ipv4 for h, host in lan_lab.hosts.items() if not host.answers_ping]
    assert silent == ["10.0.0.17"]
    assert sorted(out) == sorted(set(live) - set(silent))
    # the silent host still answers ARP: its MAC is in the scanner's neighbour table, the absent one's not
    neigh = lan_lab.run("scanner", ["ip", "neigh", "show", "dev", "eth0"]).stdout
    assert "10.0.0.17 lladdr 02:00:0a:00:00:11" in neigh
    assert f"{lan_lab.absent[0]} lladdr" not in neigh


def test_lan_ipv6_ula_and_link_local_answer(lan_lab):
    h1 = lan_lab.addresses["h1"]
    for target in (h1.ipv6, h1.link_local):
        proc = lan_lab.run("scanner", ["ping", "-6", "-c1", "-W2", target])
        assert proc.returncode == 0 and "1 received" in proc.stdout, proc.stdout + proc.stderr
    assert h1.link_local.split("%")[0] in lan_lab.run("h1", ["ip", "-6", "addr", "show", "dev", "eth0"]).stdout


def test_real_ethernet_frames_on_a_veth(lan_lab):
    with lan_lab.inside("h2"):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    with sock:
        sock.bind(("eth0", 0))
        sock.settimeout(3)
        assert lan_lab.run("scanner", ["ping", "-c1", "-W1", lan_lab.addresses["h2"].ipv4]).returncode == 0
        frame = sock.recv(2048)
    dst, src, ethertype = struct.unpack("!6s6sH", frame[:14])
    assert (dst.hex(":"), src.hex(":"), ethertype) == ("02:00:0a:00:00:0b", "02:00:0a:00:00:02", 0x0800)
    assert socket.inet_ntoa(frame[26:30]) == "10.0.0.2" and frame[23] == 1     # IPv4 source, protocol ICMP


RECEIVER = textwrap.dedent("""
    import socket, struct, sys
    group, port = sys.argv[1], int(sys.argv[2])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", port))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, struct.pack("4s4s", socket.inet_aton(group), bytes(4)))
    s.settimeout(5)
    print("ready", flush=True)
    got = set()
    while len(got) < 2:
        data, peer = s.recvfrom(100)
        got.add(data)
    print(*sorted(d.decode() for d in got), flush=True)
""")


def _send_multicast_and_broadcast(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        s.sendto(b"multicast", ("239.1.2.3", port))
        s.sendto(b"broadcast", ("10.0.0.255", port))


def test_multicast_and_broadcast_cross_the_switch(lan_lab):
    receivers = [lan_lab.popen(h, [sys.executable, "-c", RECEIVER, "239.1.2.3", "5007"], stdout=subprocess.PIPE,
                               text=True) for h in ("h3", "h4")]
    for proc in receivers:
        assert proc.stdout.readline().strip() == "ready"
    lan_lab.call("h1", _send_multicast_and_broadcast, 5007)
    for proc in receivers:
        assert proc.stdout.readline().split() == ["broadcast", "multicast"]
        assert proc.wait(timeout=5) == 0


def test_services_call_and_inside(lan_lab):
    assert lan_lab.serve_tcp("h4", 7777, banner=b"hello\n") == ("10.0.0.14", 7777)
    lan_lab.serve_udp("h4", 7778)

    def talk(host: str) -> tuple[bytes, bytes]:
        with socket.create_connection((host, 7777), timeout=2) as tcp, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            banner = tcp.recv(100)
            udp.settimeout(2)
            udp.sendto(b"echo?", (host, 7778))
            return banner, udp.recv(100)

    assert lan_lab.call("scanner", talk, "10.0.0.14") == (b"hello\n", b"echo?")
    with lan_lab.inside("scanner"):
        tcp = socket.create_connection(("10.0.0.14", 7777), timeout=2)
    with tcp:                                 # made inside, used from the machine's namespace
        assert tcp.recv(100) == b"hello\n"
        tcp.sendall(b"ping")
        assert tcp.recv(100) == b"ping"
    assert lan_lab.call("scanner", socket.gethostbyname, "10.0.0.14") == "10.0.0.14"
    with pytest.raises(ConnectionRefusedError) as info:
        lan_lab.call("scanner", socket.create_connection, ("10.0.0.14", 7779), timeout=2)
    assert "in lab host scanner" in "".join(getattr(info.value, "__notes__", ["in lab host scanner"]))
    with pytest.raises(TimeoutError, match="gave no answer within 0.5 s"):
        lan_lab.call("scanner", time.sleep, 5, timeout=0.5)


def _icmp_socket() -> str:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
        return "raw"
    except PermissionError:
        pass
    try:
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP).close()
        return "dgram"
    except PermissionError:
        return "none"


def test_unprivileged_processes_and_ping_group_range(lan_lab):
    target = lan_lab.addresses["h1"].ipv4
    machine = Path("/proc/sys/net/ipv4/ping_group_range").read_text()
    assert lan_lab.call("h5", _icmp_socket) == "raw"
    assert lan_lab.call("h5", _icmp_socket, unprivileged=True) == "none"
    assert lan_lab.run("h5", ["ping", "-c1", "-W1", target], unprivileged=True).returncode != 0
    lan_lab.open_ping_group_range("h5")
    assert lan_lab.call("h5", _icmp_socket, unprivileged=True) == "dgram"
    proc = lan_lab.run("h5", ["ping", "-c1", "-W1", target], unprivileged=True)
    assert proc.returncode == 0, proc.stderr
    assert lan_lab.run("h5", ["id", "-u"], unprivileged=True).stdout.strip() == "65534"
    assert lan_lab.run("h5", ["id", "-u"], user=65534).stdout.strip() == "65534"
    assert Path("/proc/sys/net/ipv4/ping_group_range").read_text() == machine   # per namespace only


def test_a_failing_command_is_reported_with_its_line_and_message(lan_lab):
    ns = lan_lab.netns_name("h1")
    with pytest.raises(LabError) as info:
        run(["ip", "-n", ns, "-batch", "-"], batch=["link set lo up", "link add x0 type nosuchkind"])
    assert str(info.value).startswith(f"`ip -n {ns} -batch -` failed at line 2 (`link add x0 type nosuchkind`): Error:")
    assert info.value.command == f"ip -n {ns} -batch -" and "Command failed -:2" in info.value.stderr
    with pytest.raises(LabError, match=r"`ping -c1 -W1 10.0.0.12` in scanner exited with 1"):
        lan_lab.run("scanner", ["ping", "-c1", "-W1", "10.0.0.12"], check=True)


def _terminate_self() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


def test_a_forked_child_never_tears_the_lab_down(lan_lab):
    child = multiprocessing.get_context("fork").Process(target=_terminate_self)   # inherits the lab's handler
    child.start()
    child.join(10)
    assert child.exitcode == 128 + signal.SIGTERM
    assert lan_lab.state == "running" and len(lab_namespaces(lan_lab.id)) == len(lan_lab.topology.nodes)


def test_icmp_reject_answers_host_unreachable():
    need_lab()
    topo = Topology("icmp", (Switch("sw0", "10.0.0.0/24"),), (
        Host("scanner", (Nic("sw0", "10.0.0.2"),)),
        Host("h1", (Nic("sw0", "10.0.0.10"),), firewall=(Rule("reject", "icmp"),))))
    with Lab(topo) as lab:
        out = lab.run("scanner", ["ping", "-c1", "-W1", "10.0.0.10"]).stdout
    assert "From 10.0.0.10 icmp_seq=1 Destination Host Unreachable" in out, out


# -- routed -------------------------------------------------------------------------------------------
def test_traceroute_meets_each_router_in_order(routed_lab):
    traceroute = tool("traceroute")
    for version, flag in ((4, "-4"), (6, "-6")):
        target = routed_lab.addresses["target"].ipv4 if version == 4 else routed_lab.addresses["target"].ipv6
        out = routed_lab.run("scanner", [traceroute, flag, "-n", "-q1", "-w1", target], timeout=30).stdout
        hops = [line.split()[1] for line in out.splitlines()[1:]]
        assert hops == routed_lab.topology.hops("scanner", "target", version), out


def test_ttl_expiry_comes_from_the_router(routed_lab):
    for ttl, router in ((1, "10.0.1.1"), (2, "10.0.2.1")):
        out = routed_lab.run("scanner", ["ping", "-c1", "-W2", "-t", str(ttl), "10.0.3.10"]).stdout
        assert f"From {router} icmp_seq=1 Time to live exceeded" in out, out
    out = routed_lab.run("scanner", ["ping", "-c1", "-W2", "10.0.9.9"]).stdout
    assert "From 10.0.1.1 icmp_seq=1 Destination Net Unreachable" in out, out


# -- firewalled ---------------------------------------------------------------------------------------
def _probe(host: str, proto: str, port: int) -> str:
    """What a connect scan sees: open, refused (RST or ICMP port unreachable), unreachable (ICMP
    admin-prohibited), or timeout (dropped)."""
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.settimeout(0.6)
        try:
            sock.connect((host, port))
            if proto == "udp":
                sock.send(b"probe")
                sock.recv(100)
            return "open"
        except ConnectionRefusedError:
            return "refused"
        except TimeoutError:
            return "timeout"
        except OSError as exc:
            if exc.errno in (errno.EHOSTUNREACH, errno.EACCES):
                return "unreachable"
            raise


EXPECTED = {"open": "open", "closed": "refused", "reject": "refused", "drop": "timeout", "prohibit": "unreachable"}


def test_firewalled_ports_open_closed_dropped_rejected(fw_lab):
    target = fw_lab.hosts["target"]
    ports = [("tcp", p) for p in (22, 23, 25, 80, 113, 443, 445)] + [("udp", p) for p in (53, 69, 123, 137, 161, 514)]
    seen = {(proto, port): fw_lab.call("scanner", _probe, "10.0.0.10", proto, port) for proto, port in ports}
    assert seen == {key: EXPECTED[target.port_state(*key)] for key in ports}
    assert set(seen.values()) == set(EXPECTED.values())         # every behaviour is there, for TCP and UDP
    banner = fw_lab.call("scanner", lambda: socket.create_connection(("fd00:6e73::10", 22), timeout=2).recv(100))
    assert banner == b"SSH-2.0-netstudy_lab\r\n"                 # services listen on IPv6 too


def test_stealth_host_drops_ping_but_serves(fw_lab):
    ip = fw_lab.addresses["stealth"].ipv4
    assert fw_lab.run("scanner", ["ping", "-c1", "-W1", ip]).returncode == 1
    assert fw_lab.run("scanner", ["ping", "-c1", "-W1", fw_lab.addresses["target"].ipv4]).returncode == 0
    assert fw_lab.call("scanner", _probe, ip, "tcp", 80) == "open"


# -- life cycle ---------------------------------------------------------------------------------------
def test_teardown_leaves_nothing_even_after_an_exception():
    need_lab()
    with pytest.raises(RuntimeError, match="boom"), Lab("lan", hosts=2) as lab:
        sleeper = lab.popen("h1", ["sleep", "60"])
        assert len(lab_namespaces(lab.id)) == 4 and lab.state == "running"
        assert in_machine_namespace(lab) == []               # no link in the machine's namespace
        raise RuntimeError("boom")
    assert left_behind(lab.id) == [] and lab.state == "closed"
    assert sleeper.poll() is not None                           # programs started in the lab are gone
    assert in_machine_namespace(lab) == []
    with pytest.raises(LabError, match="is closed"):
        lab.run("h1", ["true"])


def test_netem_is_refused_clearly_where_the_kernel_lacks_it():
    need_lab()
    topo = Topology("slow", (Switch("sw0", "10.0.0.0/24"),),
                    (Host("scanner", (Nic("sw0", "10.0.0.2", delay_ms=20),)), Host("h1", (Nic("sw0", "10.0.0.10"),))))
    lab = Lab(topo)
    try:
        with lab:
            out = lab.run("scanner", ["ping", "-c1", "-W2", "10.0.0.10"]).stdout
            assert float(out.split("time=")[1].split()[0]) >= 20     # this kernel has netem after all
    except LabError as exc:
        assert "netem" in str(exc) and "this kernel does not offer" in str(exc)
    assert left_behind(lab.id) == []


# words `ip link`/`ip addr` read as keywords (or abbreviations of one: `a` is address, `m` mtu, ...)
IP_KEYWORDS = ("a", "b", "d", "l", "m", "n", "t", "al", "br", "up", "dev", "mtu", "link", "name", "type",
               "index", "alias", "group", "down", "address", "broadcast", "brd", "master", "nomaster", "netns",
               "vrf", "state", "mode", "arp", "multicast", "allmulticast", "promisc", "dynamic", "carrier",
               "txqueuelen", "qlen", "vf", "xdp", "noqueue", "protodown", "addrgenmode", "link-netns",
               "numtxqueues", "help", "peer", "master-b")


def test_hosts_named_like_ip_keywords_come_up_and_ping_each_other():
    need_lab()
    fping = tool("fping")
    hosts = tuple(Host(name, (Nic("sw0", f"10.0.0.{10 + i}"),)) for i, name in enumerate(IP_KEYWORDS))
    topo = Topology("keywords", (Switch("sw0", "10.0.0.0/24"),), hosts, vantage="dev")
    with Lab(topo) as lab:
        every = [lab.addresses[h].ipv4 for h in IP_KEYWORDS]
        out = lab.run("dev", [fping, "-a", "-r1", "-t500", *every])
        assert sorted(out.stdout.split()) == sorted(every), out.stderr
        # each host pings the next one round the ring (not all pairs: the kernel's ARP table is shared
        # by every namespace and holds 1024 entries, net.ipv4.neigh.default.gc_thresh3)
        for name, peer in zip(IP_KEYWORDS, IP_KEYWORDS[1:] + IP_KEYWORDS[:1], strict=True):
            out = lab.run(name, [fping, "-a", "-r1", "-t500", lab.addresses[peer].ipv4])
            assert out.stdout.split() == [lab.addresses[peer].ipv4], (name, peer, out.stderr)
        ports = lab.run("sw0", ["ip", "-o", "link", "show", "master", "br0"]).stdout
        assert sorted(line.split(":")[1].strip().split("@")[0] for line in ports.splitlines()) == sorted(IP_KEYWORDS)
    assert left_behind(lab.id) == []


HOLDER = textwrap.dedent("""
    import sys, time
    from netstudy.lab import Lab
    with Lab("lan", hosts=int(sys.argv[1])) as lab:
        print(lab.id, flush=True)
        time.sleep(60)
""")


def test_sigterm_tears_down_then_exits():
    need_lab()
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, "2"], stdout=subprocess.PIPE, text=True)
    lab_id = proc.stdout.readline().strip()
    assert len(lab_namespaces(lab_id)) == 4
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 128 + signal.SIGTERM
    assert left_behind(lab_id) == []


def test_sigkill_mid_build_leaves_leftovers_that_the_next_lab_removes(lan_lab):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, "20"], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    victim = None
    while victim is None and time.monotonic() < deadline:     # kill at its first namespace: mid-build
        victim = next((r.id for r in records() if r.pid == proc.pid and lab_namespaces(r.id)), None)
        time.sleep(0.002)
    proc.kill()                                                 # SIGKILL: no handler, no atexit
    proc.wait()
    assert victim and lab_namespaces(victim), "the child never started building"
    with Lab("lan", hosts=1) as fresh:                          # every new lab cleans up first
        assert left_behind(victim) == []
        assert fresh.run("scanner", ["ping", "-c1", "-W1", "10.0.0.10"]).returncode == 0
    # ... but never a lab whose owner still runs
    assert lan_lab.state == "running" and len(lab_namespaces(lan_lab.id)) == len(lan_lab.topology.nodes)
    assert lan_lab.run("scanner", ["ping", "-c1", "-W1", "10.0.0.10"]).returncode == 0
    assert (lan_lab.id, f"left alone: pid {os.getpid()} is using it") in cleanup()


CLI = [sys.executable, "-m", "netstudy.cli", "lab"]


def test_cli_dry_run_into_head_stops_quietly():
    """`netstudy lab up --dry-run lan --hosts 180 | head -1`: 200 kB of plan, one line read, no message."""
    shell = f"{shlex.join(CLI)} up --dry-run lan --hosts 180 | head -1; echo \"${{PIPESTATUS[0]}}\" >&2"
    proc = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=60)
    assert proc.stdout == "ip netns add netstudy-ID-sw0\n"
    assert proc.stderr == "141\n"              # as a program killed by SIGPIPE, and nothing else on stderr
    for verb in (["up", "--dry-run", "lan"], ["status"], ["down", "--lab", "nosuchid"]):
        gone = into_gone_head([*CLI, *verb])
        assert (gone.wait(timeout=30), gone.stderr.read()) == (141, ""), verb


def test_cli_up_into_a_gone_head_stops_quietly_and_the_lab_stays_up():
    need_lab()
    before = {r.id for r in records()}
    gone = into_gone_head([*CLI, "up", "lan", "--hosts", "1"])
    assert (gone.wait(timeout=30), gone.stderr.read()) == (141, "")
    new = [r for r in records() if r.id not in before]
    assert len(new) == 1 and new[0].alive and new[0].detached      # built, held: only the printing failed
    down = subprocess.run([*CLI, "down", "--lab", new[0].id], capture_output=True, text=True, timeout=30)
    assert down.stdout == f"lab {new[0].id}: stopped\n" and left_behind(new[0].id) == []


def orphans(before: set[str]) -> list[str]:
    """Labs that appeared since ``before`` and that no running process owns: leftovers."""
    return [f"{r.id} (pid {r.pid}, {len(lab_namespaces(r.id))} namespaces)" for r in records()
            if r.id not in before and not r.alive]


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


@pytest.mark.parametrize("when", ["holder-started", "mid-build"])
def test_cli_up_interrupted_leaves_no_lab(when):
    """Ctrl-C on `netstudy lab up` (once its holder runs, or once the lab's first namespace exists):
    exit status 130, and no namespace, veth or record left behind."""
    need_lab()
    before = {r.id for r in records()}
    proc = subprocess.Popen([*CLI, "up", "lan", "--hosts", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    building: list[str] = []
    deadline = time.monotonic() + 20
    if when == "mid-build":
        while not building and time.monotonic() < deadline:
            building = [r.id for r in records() if r.id not in before and lab_namespaces(r.id)]
            time.sleep(0.002)
        assert building, "the lab never started building"
    else:                               # the CLI's imports are done: it has started the holder
        while not children(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.002)
        assert children(proc.pid), "no holder was started"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert (proc.returncode, err) == (130, "")
    assert "held by pid" not in out
    assert orphans(before) == [] and all(left_behind(i) == [] for i in building)


def test_cli_up_exec_status_down():
    need_lab()
    cli = CLI
    up = subprocess.run([*cli, "up", "lan", "--hosts", "2"], capture_output=True, text=True, timeout=30)
    assert up.returncode == 0, up.stderr
    lab_id = up.stdout.split()[1]
    assert f"netstudy-{lab_id}-h2" in up.stdout and "10.0.0.11/24" in up.stdout
    try:
        ping = subprocess.run([*cli, "exec", "--lab", lab_id, "scanner", "--", "ping", "-c1", "-W1", "10.0.0.11"],
                              capture_output=True, text=True, timeout=30)
        assert ping.returncode == 0 and "1 received" in ping.stdout
        absent = subprocess.run([*cli, "exec", "--lab", lab_id, "scanner", "--", "ping", "-c1", "-W1", "10.0.0.12"],
                                capture_output=True, text=True, timeout=30)
        assert absent.returncode == 1
        status = subprocess.run([*cli, "status"], capture_output=True, text=True, timeout=30).stdout
        assert f"lab {lab_id}: up, held by pid" in status
        status_into_head = subprocess.run(["bash", "-c", f"{shlex.join(cli)} status | head -1; "
                                           "echo \"${PIPESTATUS[0]}\" >&2"], capture_output=True, text=True)
        assert status_into_head.stdout == status.splitlines()[0] + "\n"
        assert status_into_head.stderr in ("0\n", "141\n")    # 0 when head read everything before leaving
        gone = into_gone_head([*cli, "status"])
        assert (gone.wait(timeout=30), gone.stderr.read()) == (141, "")
        # another user may not stop it: one line saying who may, and the lab stays up
        other = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        if shutil.which("setpriv") and subprocess.run([*other, *cli[:1], "-c", "pass"]).returncode == 0:
            refused = subprocess.run([*other, *cli, "down", "--lab", lab_id], capture_output=True, text=True,
                                     timeout=30)
            assert refused.returncode == 2 and refused.stdout == ""
            holder = re.search(rf"lab {lab_id}: up, held by pid (\d+)", status)
            assert holder is not None
            assert refused.stderr == (f"netstudy lab: lab {lab_id} is held by pid {holder[1]}, a process "
                                      f"of another user: only root or that user can stop it (sudo netstudy lab "
                                      f"down)\n")
            assert f"lab {lab_id}: up" in subprocess.run([*cli, "status"], capture_output=True, text=True).stdout
    finally:
        down = subprocess.run([*cli, "down", "--lab", lab_id], capture_output=True, text=True, timeout=30)
    assert down.stdout.strip() == f"lab {lab_id}: stopped"
    assert left_behind(lab_id) == []


def test_works_inside_an_unprivileged_user_namespace():
    need_lab()
    need_user_namespaces()
    unshare = tool("unshare")
    script = ("from netstudy.lab import Lab\n"
              "with Lab('routed', subnets=2) as lab:\n"
              "    print(lab.run('scanner', ['traceroute', '-n', '-q1', '-w1', '10.0.2.10']).stdout)\n"
              "    print(lab.call('scanner', __import__('os').getuid))\n")
    proc = subprocess.run([unshare, "--user", "--map-user=65534", "--map-group=65534",     # no privilege...
                           unshare, "--user", "--map-root-user", "--net", "--mount", "sh", "-c",  # ...own userns
                           f"mount -t tmpfs netstudy /run && exec {sys.executable} -c \"$0\"", script],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    hops = [line.split()[1] for line in proc.stdout.splitlines()[1:3]]
    assert hops == ["10.0.1.1", "10.0.2.10"]
    assert proc.stdout.split()[-1] == "0"            # root inside its own user namespace only
