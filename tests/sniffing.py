"""Helpers of the sniffer's live tests and benchmark: a quiet loopback, tcpdump beside our capture.

The machine's own ``lo`` carries everyone's traffic (other tests, other engineers' scans), so a frame
for frame comparison runs in a network namespace of its own (``sniff-…``, deleted afterwards), whose
``lo`` carries only what the test makes. Everything runs there through ``ip netns exec``.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

NETSTUDY = [sys.executable, "-m", "netstudy.cli"]
# tcpdump as the judge of a live capture: every frame written at once. In immediate mode libpcap takes a
# TPACKET_V2 ring, one slot per frame each the snap length long: 8 slots in its default 2 MiB, so a burst
# of a dozen loopback frames (each one twice) overflowed it ("2 packets dropped by kernel"); 8 MiB holds 32
TCPDUMP = ["tcpdump", "-n", "--immediate-mode", "-U", "-B", "8192"]
ROOT = Path(__file__).resolve().parents[1]

# a TCP exchange and a UDP exchange on 127.0.0.1 (run inside the namespace)
EXCHANGE = r"""
import socket, sys
port = int(sys.argv[1])
server = socket.create_server(("127.0.0.1", port))
client = socket.create_connection(("127.0.0.1", port))
peer, _ = server.accept()
client.sendall(b"hello over tcp" * 20)
peer.sendall(peer.recv(4096).upper())
client.recv(4096)
client.close(); peer.close(); server.close()
udp_server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp_server.bind(("127.0.0.1", port))
udp_client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(5):
    udp_client.sendto(b"datagram %d" % i, ("127.0.0.1", port))
    data, address = udp_server.recvfrom(2048)
    udp_server.sendto(data[::-1], address)
    udp_client.recvfrom(2048)
"""


class Namespace:
    """A network namespace of our own with ``lo`` up: ``ns.argv(cmd)`` runs ``cmd`` inside it."""

    def __init__(self, tag: str) -> None:
        self.name = f"sniff-{tag}-{os.getpid()}"

    def __enter__(self) -> Namespace:
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], check=True)
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["ip", "netns", "del", self.name], check=False)

    def argv(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *map(str, argv)]

    def run(self, argv: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(argv), capture_output=True, text=True, env=environment(), **kwargs)

    def popen(self, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        return subprocess.Popen(self.argv(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=environment(), **kwargs)


def environment() -> dict[str, str]:
    """This process's environment, with this tree first on PYTHONPATH (the CLI in a subprocess)."""
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def wait_listening(proc: subprocess.Popen, timeout: float = 20.0) -> str:
    """Read ``proc``'s stderr until its ``listening on`` line (tcpdump's, and ours)."""
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            raise AssertionError(f"{proc.args} ended before listening: {''.join(lines)}")
        lines.append(line)
        if "listening on" in line:
            return line
    raise AssertionError(f"{proc.args} is not listening after {timeout} s")


def interrupt(proc: subprocess.Popen, timeout: float = 20.0) -> tuple[str, str]:
    """SIGINT, as Ctrl-C, then what it printed."""
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=timeout)
    return out, err


@contextlib.contextmanager
def side_by_side(ns: Namespace, ours: Sequence[str], theirs: Sequence[str]) -> Iterator[dict[str, str]]:
    """Our capture and tcpdump, both listening before the block runs, both interrupted after it; the
    dict gets their stderr (``ours``, ``theirs``) and our ``listening`` line."""
    tcpdump = ns.popen(theirs)
    captured: dict[str, str] = {}
    try:
        wait_listening(tcpdump)
        sniffer = ns.popen(ours)
        try:
            captured["listening"] = wait_listening(sniffer)
            time.sleep(0.3)       # tcpdump's ring and ours both set up (the listening lines come after)
            yield captured
            time.sleep(1.0)       # the last frames retired from both rings and written
        finally:
            captured["ours"] = interrupt(sniffer)[1]
    finally:
        captured["theirs"] = interrupt(tcpdump)[1]


def make_traffic(ns: Namespace, port: int = 40404) -> None:
    """ping, a DNS query nobody answers (dig, then ICMP port unreachable), a TCP and a UDP exchange."""
    ns.run(["ping", "-c", "3", "-i", "0.2", "127.0.0.1"], check=True)
    ns.run(["dig", "+tries=1", "+time=1", "@127.0.0.1", "netstudy.test", "A"])
    ns.run([sys.executable, "-c", EXCHANGE, str(port)], check=True)


def record_notebook_capture(path: Path) -> None:
    """Record notebook 05's fallback capture: ping, a DNS query answered by ``netstudy dns serve`` on
    port 53, and a TCP exchange, on a namespace's loopback, by tcpdump (run as root:
    ``python tests/sniffing.py netstudy/data/captures/loopback_sniff.pcap``)."""
    zone = ROOT / "netstudy" / "data" / "zones" / "netstudy.test.zone"
    with Namespace("record") as ns:
        server = ns.popen([*NETSTUDY, "dns", "serve", "--port", "53", zone])
        time.sleep(2)
        tcpdump = ns.popen([*TCPDUMP, "-i", "lo", "-w", path])
        wait_listening(tcpdump)
        ns.run(["ping", "-c", "2", "-i", "0.2", "127.0.0.1"], check=True)
        ns.run(["dig", "+tries=1", "+time=1", "@127.0.0.1", "www.netstudy.test", "A"], check=True)
        ns.run([sys.executable, "-c", EXCHANGE.split("udp_server")[0], "8080"], check=True)
        time.sleep(1)
        interrupt(tcpdump)
        interrupt(server)


if __name__ == "__main__":
    record_notebook_capture(Path(sys.argv[1]).resolve())
