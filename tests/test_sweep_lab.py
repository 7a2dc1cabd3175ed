"""The sweep in the lab's `lan` (hosts, empty addresses, hosts that drop ICMP), judged by fping and nmap
run in the same namespace, and by what the topology says; the CLI's one-line errors."""
from __future__ import annotations

import errno
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios

import pytest
from conftest import need_namespaces, need_root, need_user_namespaces, tool

pytestmark = [pytest.mark.lab, pytest.mark.root]
SUBNET = "10.0.0.0/24"
NETSTUDY = [sys.executable, "-m", "netstudy.cli"]
HOSTS, SILENT = 40, 3


@pytest.fixture(scope="module")
def lab():
    need_root("building the lab")
    need_namespaces()
    from netstudy.lab import Lab
    with Lab("lan", hosts=HOSTS, silent=SILENT) as lab:
        yield lab


def _sweep(method: str, **options):
    from netstudy.sweep import sweep
    return sweep(SUBNET, method, **options)


def _sweep_error(method: str, targets: str = SUBNET, **options) -> str:
    from netstudy.errors import NetstudyError
    from netstudy.sweep import sweep
    try:
        sweep(targets, method, **options)
    except (NetstudyError, PermissionError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return "no error"


@pytest.fixture(scope="module")
def icmp(lab):
    return lab.call("scanner", _sweep, "icmp")


@pytest.fixture(scope="module")
def arp(lab):
    return lab.call("scanner", _sweep, "arp")


def expected(lab, with_silent: bool) -> set[str]:
    """Who is up: the scanner itself (it answers its own probes) and every host, less those that drop ICMP."""
    return {str(lab.addresses[name].ipv4) for name, host in lab.hosts.items()
            if with_silent or host.answers_ping}


def silent_hosts(lab) -> set[str]:
    return expected(lab, True) - expected(lab, False)


def fping_alive(lab) -> set[str]:
    out = lab.run("scanner", [tool("fping"), "-a", "-q", "-g", SUBNET], timeout=60).stdout
    return set(out.split())


def nmap_alive(lab, *flags: str) -> set[str]:
    out = lab.run("scanner", [tool("nmap"), "-sn", "-n", *flags, "-oG", "-", SUBNET], timeout=120).stdout
    return set(re.findall(r"^Host: (\S+) .*Status: Up", out, re.MULTILINE))


def test_the_lab_has_hosts_empty_addresses_and_icmp_silent_hosts(lab):
    assert len(silent_hosts(lab)) == SILENT and lab.absent
    assert len(expected(lab, True)) == HOSTS + 1


def test_icmp_live_set_equals_fping_and_nmap_ping_scan(lab, icmp):
    found = set(icmp.addresses())
    assert found == expected(lab, with_silent=False)
    assert found == fping_alive(lab)
    assert found == nmap_alive(lab, "-PE", "--disable-arp-ping")     # ICMP echo only (else nmap ARPs the LAN)
    assert icmp.mechanism == "raw" and icmp.scanned == 254


def test_icmp_records_rtt_ttl_and_answer(lab, icmp):
    for target in icmp.alive:
        assert target.answer == "echo reply" and target.ttl == 64 and target.initial_ttl == 64
        assert target.hops == 0 and 0 < target.rtt_ns < 500_000_000 and target.found_by == "icmp"
    assert icmp.elapsed_s < 3.0                              # every probe in flight at once: about one timeout


def test_absent_addresses_and_silent_hosts_are_not_alive(lab, icmp, arp):
    for address in lab.absent:
        assert icmp.get(address).state.value == "silent" and arp.get(address).state.value == "silent"
        assert icmp.get(address).attempts == 2                  # the first attempt and one retry
    for address in silent_hosts(lab):
        assert icmp.get(address).state.value == "silent"


def test_arp_finds_the_icmp_silent_hosts_and_equals_nmap_arp_scan(lab, arp):
    found = set(arp.addresses())
    assert found == expected(lab, with_silent=True)
    assert silent_hosts(lab) <= found
    assert found == nmap_alive(lab, "-PR")
    for name in lab.hosts:
        target = arp.get(str(lab.addresses[name].ipv4))
        assert target.mac == lab.addresses[name].mac and target.vendor == "locally administered"
    assert arp.mechanism == "packet"


@pytest.fixture(scope="module")
def syn(lab):
    return lab.call("scanner", _sweep, "tcp", ports=[22, 80, 443])


def test_tcp_syn_ping_finds_hosts_that_drop_icmp_and_equals_nmap_syn_ping(lab, syn):
    """Root in the scanner: SYNs from a raw socket; a SYN-ACK or a RST from the address is an answer, as
    for nmap -PS (ARP ping off, else nmap ARPs the LAN); the ICMP-silent hosts accept or reset TCP."""
    found = set(syn.addresses())
    assert syn.mechanism == "raw" and syn.scanned == 254
    assert found == expected(lab, with_silent=True)
    assert silent_hosts(lab) <= found
    assert found == nmap_alive(lab, "-PS22,80,443", "--disable-arp-ping")
    for target in syn.alive:
        assert target.answer in {"syn-ack", "reset"} and target.port in (22, 80, 443) and target.found_by == "tcp"
        assert target.ttl == 64 and 0 < target.rtt_ns < 500_000_000
    for address in lab.absent:
        assert syn.get(address).state.value == "silent"


def test_tcp_connect_finds_hosts_that_drop_icmp(lab):
    tcp = lab.call("scanner", _sweep, "tcp", mechanism="connect")
    assert set(tcp.addresses()) == expected(lab, with_silent=True)
    assert {t.answer for t in tcp.alive} <= {"reset", "syn-ack"} and tcp.mechanism == "connect"


def test_unprivileged_tcp_sweep_falls_back_to_connect(lab, syn):
    need_user_namespaces()
    tcp = lab.call("scanner", _sweep, "tcp", ports=[22, 80, 443], unprivileged=True)
    assert tcp.mechanism == "connect"
    assert set(tcp.addresses()) == set(syn.addresses()) == expected(lab, with_silent=True)
    assert {t.answer for t in tcp.alive} <= {"reset", "syn-ack"}
    message = lab.call("scanner", _sweep_error, "tcp", mechanism="raw", unprivileged=True)
    assert message.startswith("PrivilegeError:") and "CAP_NET_RAW" in message and "connect()" in message


def test_all_methods_combined(lab):
    result = lab.call("scanner", _sweep, "all")
    assert set(result.addresses()) == expected(lab, with_silent=True)
    for address in silent_hosts(lab):
        assert result.get(address).found_by == "arp"


def test_unprivileged_sweep_uses_the_icmp_datagram_socket(lab):
    need_user_namespaces()
    lab.open_ping_group_range("scanner")
    try:
        result = lab.call("scanner", _sweep, "icmp", unprivileged=True)
    finally:
        lab.sysctl("scanner", "net.ipv4.ping_group_range", "1 0")
    assert result.mechanism == "datagram"
    assert set(result.addresses()) == expected(lab, with_silent=False)


def test_unprivileged_without_ping_group_range_says_what_to_do(lab):
    need_user_namespaces()
    message = lab.call("scanner", _sweep_error, "icmp", unprivileged=True)
    assert message.startswith("PrivilegeError:") and "ping_group_range" in message and "CAP_NET_RAW" in message
    message = lab.call("scanner", _sweep_error, "arp", unprivileged=True)
    assert message.startswith("PrivilegeError:") and "--method icmp or tcp" in message


def test_cli_prints_one_line_per_live_host_and_a_summary(lab):
    out = lab.run("scanner", NETSTUDY + ["sweep", SUBNET, "--method", "arp"], timeout=60)
    lines = out.stdout.splitlines()
    assert out.returncode == 0 and out.stderr == ""
    assert re.fullmatch(rf"{HOSTS + 1} hosts up of 254 scanned in \d+\.\d\d s", lines[-1])
    assert re.fullmatch(r"10\.0\.0\.10 \(\d+\.\d+ ms\) 02:00:0a:00:00:0a \(locally administered\)",
                        next(line for line in lines if line.startswith("10.0.0.10 ")))
    assert {line.split()[0] for line in lines[:-1]} == expected(lab, with_silent=True)


@pytest.mark.parametrize("argv, words", [
    (["sweep", "10.0.0.0/8"], "holds 16777216 addresses; a sweep takes at most a /16"),
    (["sweep", "10.0.9.0/24", "--method", "arp"], "is not on any local segment"),
    (["sweep", SUBNET, "--rate", "0"], "rate must be a number above 0, up to 100000, not '0'"),
    (["sweep", SUBNET, "--method", "udp"], "invalid choice: 'udp'"),
])
def test_cli_errors_are_one_line(lab, argv, words):
    out = lab.run("scanner", NETSTUDY + argv, timeout=30)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("netstudy sweep: ") and words in out.stderr


def test_cli_without_privilege_says_what_to_do(lab):
    need_user_namespaces()
    out = lab.run("scanner", NETSTUDY + ["sweep", SUBNET, "--method", "arp"], unprivileged=True, timeout=30)
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "needs root or CAP_NET_RAW" in out.stderr and "use --method icmp or tcp" in out.stderr


def test_cli_names_the_live_hosts_through_a_dns_server(lab, tmp_path):
    """--dns-server: the PTR names of the live hosts, asked of netstudy's own DNS server in the scanner's
    namespace (127.0.0.1 there), printed after each host as nmap -sn does."""
    named = sorted(expected(lab, with_silent=False) - {str(lab.addresses["scanner"].ipv4)})[:5]
    zone = tmp_path / "0.0.10.in-addr.arpa.zone"
    zone.write_text("$ORIGIN 0.0.10.in-addr.arpa.\n$TTL 60\n"
                    "@ SOA ns.lab.test. hostmaster.lab.test. 1 60 60 60 60\n@ NS ns.lab.test.\n"
                    + "".join(f"{a.split('.')[-1]} PTR host{a.split('.')[-1]}.lab.test.\n" for a in named))
    server = lab.popen("scanner", NETSTUDY + ["dns", "serve", str(zone), "--host", "127.0.0.1", "--port", "5399"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        assert "7 records" in server.stdout.readline() and "5399" in server.stdout.readline()   # listening
        out = lab.run("scanner", NETSTUDY + ["sweep", SUBNET, "--dns-server", "127.0.0.1:5399"], timeout=60)
    finally:
        server.terminate()
        server.wait(10)
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines()[:-1]}
    assert set(lines) == expected(lab, with_silent=False)
    for address in named:
        assert lines[address].endswith(f" host{address.split('.')[-1]}.lab.test"), lines[address]
    assert not any(line.endswith(".lab.test") for a, line in lines.items() if a not in named)


def _connect_errors(addresses: list[str]) -> set[int]:
    """What the kernel says to a UDP connect() towards each address (0: it has a route)."""
    import socket
    codes = set()
    for address in addresses:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            codes.add(sock.connect_ex((address, 9)))
    return codes


def _terminal() -> tuple[int, int]:
    """A pseudo-terminal 80 columns wide (a fresh one is 0 x 0, in which tqdm draws an empty bar)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    return master, slave


def _read_ptys(proc: subprocess.Popen, masters: list[int], timeout: float = 60) -> list[bytes]:
    """Everything written on each pseudo-terminal until the program ends and both are drained."""
    out = {fd: b"" for fd in masters}
    open_fds = list(masters)
    while open_fds:
        ready, _, _ = select.select(open_fds, [], [], timeout)
        assert ready, "the sweep wrote nothing for a minute"
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError as exc:           # EIO: the program closed its end
                assert exc.errno == errno.EIO
                chunk = b""
            if chunk:
                out[fd] += chunk
            else:
                open_fds.remove(fd)
    proc.wait(30)
    return [out[fd] for fd in masters]


def test_cli_shows_a_progress_bar_on_a_terminal_and_none_into_a_pipe(lab):
    """A sweep of at least PROGRESS_FROM addresses: a tqdm bar on stderr when stdout and stderr are
    terminals, none into pipes. The lab's /24 is too short, so a /22: its 767 addresses outside the lab's
    /24 have no route in the scanner's namespace (verified here), so each gets a local "network
    unreachable" at once and the lab's hosts are the only ones probed on the wire."""
    from netstudy.commands.sweep import PROGRESS_FROM
    from netstudy.sweep import expand
    wide = "10.0.0.0/22"
    addresses = expand(wide)
    outside = [a for a in addresses if not a.startswith("10.0.0.")]
    assert len(addresses) >= PROGRESS_FROM and len(outside) == 767
    assert lab.call("scanner", _connect_errors, outside) == {errno.ENETUNREACH}
    argv = NETSTUDY + ["sweep", wide, "--timeout", "0.3"]
    summary = rf"{len(expected(lab, with_silent=False))} hosts up of {len(addresses)} scanned in \d+\.\d\d s"

    out_master, out_slave = _terminal()
    err_master, err_slave = _terminal()
    try:
        proc = lab.popen("scanner", argv, stdin=subprocess.DEVNULL, stdout=out_slave, stderr=err_slave)
    finally:
        os.close(out_slave)
        os.close(err_slave)
    try:
        stdout, stderr = _read_ptys(proc, [out_master, err_master])
    finally:
        os.close(out_master)
        os.close(err_master)
    assert proc.returncode == 0, stderr
    bar = re.compile(rb"\d+%\|.*\| *\d+/" + str(len(addresses)).encode() + rb" \[")     # tqdm: 12%|█▏ | 123/1022 [
    assert bar.search(stderr), stderr[-500:]
    assert not bar.search(stdout)
    lines = stdout.decode().splitlines()
    assert re.fullmatch(summary, lines[-1])
    assert {line.split()[0] for line in lines[:-1]} == expected(lab, with_silent=False)

    piped = lab.run("scanner", argv, timeout=60)
    assert piped.returncode == 0 and piped.stderr == ""
    assert not bar.search(piped.stdout.encode())
    assert re.fullmatch(summary, piped.stdout.splitlines()[-1])
