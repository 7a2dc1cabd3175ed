"""Issue 20: commands behave as Unix tools do when the reader of their output goes away (``| head -1``),
and ``dns serve`` ends on SIGINT (even one its parent ignored) and SIGTERM with its statistics printed."""
from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import free_port

from netstudy.capabilities import capabilities
from netstudy.dns import DnsServer, query

NETSTUDY = [sys.executable, "-m", "netstudy.cli"]
ZONE = Path(__file__).resolve().parents[1] / "netstudy" / "data" / "zones" / "netstudy.test.zone"
STATS = re.compile(r"^(\d+) UDP and (\d+) TCP queries, (\d+) replies, (\d+) dropped$")


@pytest.fixture(scope="module")
def dns_port():
    with DnsServer(ZONE, port=free_port()) as server:
        yield server.port


def _commands(port: int) -> dict[str, list[str]]:
    return {"ping": ["ping", "-c", "4", "-i", "0.2", "127.0.0.1"],
            "traceroute": ["traceroute", "-U", "-q", "1", "127.0.0.1"],
            "dns query": ["dns", "query", "www.netstudy.test", "@127.0.0.1", "-p", str(port)]}


def _can_ping() -> bool:
    caps = capabilities()
    return caps.raw_sockets or caps.icmp_datagram


@pytest.mark.parametrize("command", ["ping", "traceroute", "dns query"])
@pytest.mark.parametrize("reader", ["head -1", "gone before the first line"])
def test_a_reader_that_goes_away_stops_the_command_quietly(command, reader, dns_port):
    if command == "ping" and not _can_ping():
        pytest.skip("no ICMP socket here")
    proc = subprocess.Popen([*NETSTUDY, *_commands(dns_port)[command]], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None
    if reader == "head -1":
        proc.stdout.readline()
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert err == b"", err.decode()
    assert proc.returncode in (0, 141)          # 141: as a tool killed by SIGPIPE; 0 if it had written all


def test_head_minus_one_through_a_shell_prints_nothing_on_stderr(dns_port):
    cmd = " ".join([*NETSTUDY, *_commands(dns_port)["traceroute"]])
    shell = subprocess.run(["bash", "-c", f"set -o pipefail; {cmd} 2>/dev/stderr | head -1"], capture_output=True,
                           text=True, timeout=60)
    assert shell.stdout.startswith("traceroute to 127.0.0.1") and shell.stdout.count("\n") == 1
    assert shell.stderr == "" and shell.returncode in (0, 141)


def _serve(ignore_sigint: bool) -> tuple[subprocess.Popen, int]:
    def preexec() -> None:
        if ignore_sigint:           # as `netstudy dns serve &` from a script: SIGINT inherited ignored
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    proc = subprocess.Popen([*NETSTUDY, "dns", "serve", "--port", "0", str(ZONE)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=preexec)
    assert proc.stdout is not None
    for line in proc.stdout:
        if match := re.match(r"serving on 127\.0\.0\.1 port (\d+) ", line):
            return proc, int(match.group(1))
    raise AssertionError(f"dns serve did not start: {proc.communicate(timeout=10)}")


@pytest.mark.parametrize("signum,ignored", [(signal.SIGINT, False), (signal.SIGINT, True),
                                            (signal.SIGTERM, False), (signal.SIGTERM, True)],
                         ids=["SIGINT", "SIGINT inherited ignored", "SIGTERM", "SIGTERM with SIGINT ignored"])
def test_dns_serve_ends_on_the_signal_with_its_statistics(signum, ignored):
    proc, port = _serve(ignored)
    try:
        assert query("www.netstudy.test", "A", "127.0.0.1", port, timeout=5).status == "NOERROR"
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and err == ""
    stats = STATS.match(out.splitlines()[-1])
    assert stats is not None, out
    assert stats.groups() == ("1", "0", "1", "0")


def _running(argv: list[str], first_line: str, ignored: bool) -> subprocess.Popen:
    """The CLI running ``argv`` until it has printed ``first_line`` (a prefix); SIGINT ignored as a
    script's ``cmd &`` leaves it when ``ignored``."""
    proc = subprocess.Popen(NETSTUDY + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignored else None)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith(first_line), (line, proc.stderr.read() if proc.stderr else "")
    return proc


def _stop(proc: subprocess.Popen, signum: int) -> tuple[str, str]:
    try:
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out, err


SIGNALS = pytest.mark.parametrize("signum,ignored", [(signal.SIGINT, False), (signal.SIGTERM, False),
                                                    (signal.SIGINT, True)],
                                  ids=["SIGINT", "SIGTERM", "SIGINT inherited ignored"])


@SIGNALS
def test_ping_ends_on_the_signal_with_its_statistics(signum, ignored):
    if not _can_ping():
        pytest.skip("no raw or unprivileged ICMP socket here (root, or net.ipv4.ping_group_range)")
    proc = _running(["ping", "-i", "0.2", "127.0.0.1"], "PING 127.0.0.1", ignored)
    assert proc.stdout is not None and proc.stdout.readline().startswith("64 bytes from 127.0.0.1")
    out, err = _stop(proc, signum)
    lines = out.splitlines()
    assert proc.returncode == 0 and err == ""
    assert lines[-3] == "--- 127.0.0.1 ping statistics ---"
    assert re.match(r"\d+ packets transmitted, \d+ received, 0% packet loss, time \d+ms$", lines[-2])


@SIGNALS
def test_traceroute_ends_on_the_signal_without_a_traceback(signum, ignored):
    # a UDP socket listening on the probe's port: no port unreachable comes back, so the probe waits
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        port = str(listener.getsockname()[1])
        proc = _running(["traceroute", "-U", "-p", port, "-w", "30", "-q", "1", "-m", "1", "127.0.0.1"],
                        "traceroute to", ignored)
        time.sleep(0.5)                 # the probe is out and waiting
        out, err = _stop(proc, signum)
    assert proc.returncode == 130 and err == "" and out == ""


@SIGNALS
def test_sweep_ends_on_the_signal_with_its_summary(signum, ignored):
    if not _can_ping():
        pytest.skip("no raw or unprivileged ICMP socket here (root, or net.ipv4.ping_group_range)")
    # 127.0.0.0/8 answers from every address on loopback: a slow rate keeps the sweep running
    proc = _running(["sweep", "127.0.0.0/24", "--rate", "20"], "127.0.0.", ignored)
    out, err = _stop(proc, signum)
    assert proc.returncode == 0 and err == ""
    assert re.fullmatch(r"\d+ hosts? up of 254 scanned in \d+\.\d\d s", out.splitlines()[-1])
