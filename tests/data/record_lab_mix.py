"""Record netstudy/data/captures/lab_mix.pcap, notebook 08's capture: tcpdump on the lab's ``scanner``
while netstudy's own programs run from it against the lab's hosts (run as root, network namespaces
needed: ``PYTHONPATH=. python tests/data/record_lab_mix.py [OUT]``):

- ping: 5 echo requests to h1, then 2 of 3000 bytes (each datagram goes in 3 IPv4 fragments);
- DNS: ``netstudy dns serve`` on h2 port 53 with the course's zone, queried for A, AAAA, MX and a
  name that does not exist;
- a connect scan (``netstudy portscan -sT``) of h1's ports 1-100, where h1 listens on 22 and 80;
- a chat session: ``netstudy chat serve`` on h3 and two clients sending a few lines each.

The notebook re-records it live with :func:`record` when it may (root and namespaces).
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from netstudy import pcap
from netstudy.chat.load import run_load
from netstudy.lab import Lab

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "netstudy" / "data" / "captures" / "lab_mix.pcap"
ZONE = ROOT / "netstudy" / "data" / "zones" / "netstudy.test.zone"
NETSTUDY = [sys.executable, "-m", "netstudy.cli"]


def _wait_listening(lab: Lab, host: str, port: int, proto: str = "tcp") -> None:
    """Until something on ``host`` listens on ``port`` (ss, inside the namespace)."""
    flag = "-ltn" if proto == "tcp" else "-lun"
    for _ in range(100):
        if f":{port} " in lab.run(host, ["ss", flag]).stdout:
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host} {proto} port {port}")


def record(out: Path = OUT) -> int:
    """Run the programs in a fresh lab while tcpdump captures on the scanner's eth0; write ``out``
    (frames in time order) and return how many frames it holds."""
    with Lab("lan", hosts=3) as lab, tempfile.TemporaryDirectory() as tmp:
        h1, h2, h3 = (lab.addresses[h].ipv4 for h in ("h1", "h2", "h3"))
        lab.serve_tcp("h1", 22, banner=b"SSH-2.0-lab\r\n")
        lab.serve_tcp("h1", 80)
        lab.popen("h2", [*NETSTUDY, "dns", "serve", "--host", h2, "--port", "53", str(ZONE)],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lab.popen("h3", [*NETSTUDY, "chat", "serve", "--host", h3, "--port", "5555"],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for host, port, proto in (("h1", 22, "tcp"), ("h1", 80, "tcp"), ("h2", 53, "udp"), ("h3", 5555, "tcp")):
            _wait_listening(lab, host, port, proto)
        raw = Path(tmp) / "raw.pcap"
        dump = lab.popen("scanner", ["tcpdump", "-i", "eth0", "--immediate-mode", "-B", "8192", "-U", "-w", str(raw),
                                     "ip"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)
        lab.run("scanner", [*NETSTUDY, "ping", "-c", "5", "-i", "0.2", h1], check=True)
        for name, kind in (("www.netstudy.test", "A"), ("www.netstudy.test", "AAAA"), ("netstudy.test", "MX"),
                           ("nosuch.netstudy.test", "A")):
            lab.run("scanner", [*NETSTUDY, "dns", "query", name, kind, f"@{h2}"])
        lab.run("scanner", [*NETSTUDY, "portscan", "-sT", "-p", "1-100", h1], check=True)
        lab.call("scanner", run_load, h3, 5555, 2, "burst", lines=4, timeout=30.0)
        lab.run("scanner", [*NETSTUDY, "ping", "-c", "2", "-i", "0.2", "-s", "3000", h1], check=True)
        time.sleep(1.0)              # tcpdump writes what it has when stopped (immediate mode: all of it)
        dump.terminate()
        print(dump.communicate(timeout=10)[1].decode().strip(), file=sys.stderr)
        records = sorted(pcap.read(raw), key=lambda r: r.timestamp_ns)
    return pcap.write(out, records)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    print(f"{target}: {record(target)} frames")
