"""Record what notebook 04 shows live, for a run without root (as root, on this machine):

    sudo PYTHONPATH=. .venv/bin/python tests/data/record_portscan.py

- ``netstudy/data/captures/loopback_handshake.pcap``: a connect to a loopback listener and its close
  (SYN, SYN/ACK, ACK, ...), raw IPv4 (LINKTYPE_RAW), as a raw TCP socket saw them;
- ``netstudy/data/captures/loopback_synscan.pcap``: a SYN scan of an open and a closed loopback port
  (SYN, SYN/ACK, the kernel's RST; SYN, RST/ACK);
- ``netstudy/data/portscan/lab_firewalled.json``: the lab's `firewalled` target scanned -sT, -sS, -sU;
- ``netstudy/data/captures/lab_udp_icmp.pcap``: the ICMP errors that UDP scan drew.

The notebook's cells do the same live when they may (``notebook_*`` below are what they call).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from netstudy import pcap
from netstudy.lab import Lab
from netstudy.portscan.engine import capture, portscan

DATA = Path(__file__).resolve().parent.parent.parent / "netstudy" / "data"
LAB_TCP = "21-23,25,80,113,443,445"
LAB_UDP = "53,69,123,137,161,514"


def write(path: Path, packets: list[tuple[int, bytes]]) -> None:
    with pcap.PcapWriter(path, linktype=101, nanosecond=True) as writer:
        for at, data in packets:
            writer.write(data, at)
    print(f"{path.relative_to(DATA.parent.parent)}: {len(packets)} packets")


def handshake() -> list[tuple[int, bytes]]:
    import socket
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def connect() -> None:
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        client.close()
        accepted.close()
    _, packets = capture(connect, [port])
    server.close()
    return packets


def synscan() -> list[tuple[int, bytes]]:
    import socket
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    closed = 1 if port != 1 else 2
    _, packets = capture(lambda: portscan("127.0.0.1", [port, closed], scans="syn"), [port, closed])
    server.close()
    return packets


def lab_scans() -> tuple[dict[str, str], list[tuple[int, bytes]]]:
    def inside() -> tuple[dict[str, str], list[tuple[int, bytes]]]:
        results = {flag: portscan("10.0.0.10", ports, scans=kind, timeout=0.5).to_json()
                   for flag, kind, ports in (("-sT", "connect", LAB_TCP), ("-sS", "syn", LAB_TCP),
                                             ("-sU", "udp", LAB_UDP))}
        _, icmp = capture(lambda: portscan("10.0.0.10", LAB_UDP, scans="udp", timeout=0.5), [], protocol=1)
        return results, icmp
    with Lab("firewalled") as lab:
        return lab.call("scanner", inside, timeout=120)


def main() -> int:
    (DATA / "portscan").mkdir(exist_ok=True)
    write(DATA / "captures" / "loopback_handshake.pcap", handshake())
    write(DATA / "captures" / "loopback_synscan.pcap", synscan())
    results, icmp = lab_scans()
    (DATA / "portscan" / "lab_firewalled.json").write_text(
        json.dumps({flag: json.loads(text) for flag, text in results.items()}, indent=1) + "\n")
    write(DATA / "captures" / "lab_udp_icmp.pcap", icmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
