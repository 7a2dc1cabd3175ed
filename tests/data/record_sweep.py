"""Record what notebooks/03_network_scanner.ipynb falls back on when it may not build the lab.

    sudo .venv/bin/python tests/data/record_sweep.py

In the lab's `lan` as the notebook builds it (30 hosts on 10.0.0.0/24, every fourth address empty, the
last 2 hosts dropping ICMP echo), from the scanner's namespace: tcpdump on eth0 records netstudy's ICMP
sweep (`netstudy sweep 10.0.0.0/24`, filter `icmp or arp`: an echo request to an empty
address never leaves the host, the kernel's who-has for it does) and ARP sweep (`--method arp`, filter arp), into
netstudy/data/captures/lab_sweep_{icmp,arp}.pcap; and the course's original scanner
(netstudy.sweep.seed: one `netstudy ping -c 1 -W 1` per address) is timed on the notebook's handful of
addresses, one by one and with a process pool, into netstudy/data/sweep/seed_timings.json.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from netstudy.lab import Lab

ROOT = Path(__file__).resolve().parents[2] / "netstudy" / "data"
NETSTUDY = [sys.executable, "-m", "netstudy.cli", "sweep", "10.0.0.0/24"]
HOSTS, SILENT = 30, 2
HANDFUL = ["10.0.0.10", "10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.16", "10.0.0.47"]   # see the notebook
TIMEOUT = 1.0


def timed(fn, *args):
    started = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - started


def main() -> None:
    with Lab("lan", hosts=HOSTS, silent=SILENT) as lab:
        for method, bpf in (("icmp", "icmp or arp"), ("arp", "arp")):
            path = ROOT / "captures" / f"lab_sweep_{method}.pcap"
            tcpdump = lab.popen("scanner", ["tcpdump", "-i", "eth0", "-n", "--immediate-mode", "-U", "-s", "128",
                                            "-w", str(path), bpf], stderr=subprocess.PIPE, text=True)
            assert "listening on" in tcpdump.stderr.readline()
            try:
                out = lab.run("scanner", [*NETSTUDY, "--method", method], timeout=60)
                print(out.stdout.splitlines()[-1])
                time.sleep(0.3)
            finally:
                tcpdump.terminate()
                tcpdump.wait(timeout=10)
            print(f"{path.name}: {path.stat().st_size} bytes")
        runs = {}
        for name, workers in (("sequential", 0), ("pool", len(HANDFUL))):
            argv = [sys.executable, "-m", "netstudy.sweep.seed", *HANDFUL, "--timeout", f"{TIMEOUT:g}",
                    "--workers", str(workers)]
            out, seconds = timed(lab.run, "scanner", argv)
            alive = [line.split()[0] for line in out.stdout.splitlines() if line.endswith(" is up")]
            runs[name] = {"alive": alive, "seconds": round(seconds, 3), "workers": workers}
    record = {"addresses": HANDFUL, "timeout": TIMEOUT, **runs}
    (ROOT / "sweep" / "seed_timings.json").write_text(json.dumps(record, indent=1) + "\n")
    print(record)


if __name__ == "__main__":
    main()
