"""Shared test helpers: skip clearly when a tool or a privilege is missing; the generated mixed capture."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from netstudy import capabilities

CAPS = capabilities()
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def mixed_capture(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], Path]:
    """``mixed_capture(N)``: benchmarks/make_mixed_pcap.py's reproducible mix of N frames (TCP, UDP, DNS,
    ICMP, ICMPv6, ARP, 802.1Q), made once per size for the whole session."""
    made: dict[int, Path] = {}

    def make(packets: int) -> Path:
        if packets not in made:
            out = tmp_path_factory.mktemp("mixed") / f"mixed{packets}.pcap"
            subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_mixed_pcap.py"), "--packets",
                            str(packets), "--out", str(out)], check=True, capture_output=True)
            made[packets] = out
        return made[packets]
    return make


@pytest.fixture(scope="module")
def firewalled_lab():
    """The lab's ``firewalled`` topology (a scanner, a host behind a firewall), built once per module."""
    need_root("building the lab")
    need_namespaces()
    from netstudy.lab import Lab
    with Lab("firewalled") as lab:
        yield lab


def tool(name: str) -> str:
    """Path of a system tool, or skip the test naming the tool (and the package that brings it)."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        pytest.skip(f"{name} is not installed (make test installs it with apt-get when run as root)")
    return path


def tcpdump_lines(frames: list[bytes], path, linktype: int = 1) -> list[str]:
    """tcpdump's line (``tcpdump -n -t``) for each of ``frames``, written to the capture file ``path``."""
    from netstudy import pcap
    tcpdump = tool("tcpdump")
    with pcap.PcapWriter(path, linktype=linktype) as writer:
        for frame in frames:
            writer.write(frame, 0)
    return subprocess.run([tcpdump, "-n", "-t", "-r", str(path)], capture_output=True, text=True,
                          check=True).stdout.splitlines()


def need_root(reason: str = "raw sockets") -> None:
    if os.geteuid() != 0:
        pytest.skip(f"needs root for {reason}")


def need_raw() -> None:
    if not CAPS.raw_sockets:
        pytest.skip("needs root or CAP_NET_RAW for raw sockets")


def need_namespaces() -> None:
    if not CAPS.namespaces:
        pytest.skip("needs named network namespaces (`ip netns add`): root, outside a chroot")


def need_user_namespaces() -> None:
    """Skip unless `unshare --user` works here (the tests drop privilege with it; a chroot forbids it)."""
    if not CAPS.user_namespaces:
        pytest.skip("needs unprivileged user namespaces (`unshare --user`), refused here (a chroot, or disabled)")


def netstudy_unprivileged(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``netstudy ARGV`` as nobody in a user namespace of its own (no privilege at all), its output as text;
    skips where user namespaces are refused."""
    need_user_namespaces()
    return subprocess.run(["unshare", "--user", "--map-user=65534", "--map-group=65534", sys.executable, "-m",
                           "netstudy.cli", *argv], capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    """A loopback port free for both UDP and TCP right now (for a peer that must be told its port)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no loopback port free for both UDP and TCP")


def into_gone_head(argv: list[str], **popen_kwargs) -> subprocess.Popen:
    """Start ``argv`` with its stdout a real pipe to a `head -1` that has already printed its line and
    exited: the first thing ``argv`` writes meets a closed pipe (EPIPE), whatever its timing.
    Returns the running process (stderr is a text pipe)."""
    read_end, write_end = os.pipe()
    head = subprocess.Popen(["head", "-1"], stdin=read_end, stdout=subprocess.DEVNULL)
    os.close(read_end)
    os.write(write_end, b"the line head prints\n")
    head.wait(timeout=10)
    try:
        return subprocess.Popen(argv, stdout=write_end, stderr=subprocess.PIPE, text=True, **popen_kwargs)
    finally:
        os.close(write_end)
