"""Build and tear down a 20-host `lan`: netstudy.lab's batched build against the naive build that
runs every step of the same plan as its own process (`ip netns add`, `ip netns exec ... sysctl -w`,
`ip link add`, `ip -n ... addr add`, ...), which is how a first shell script does it.

    .venv/bin/python benchmarks/lab.py [--hosts 20] [--rounds 3]

There is no peer tool for this on the machine; the naive build is the comparison. Needs root.
"""
from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import sys
import time

from netstudy.lab import Lab, build_plan, lan
from netstudy.lab.system import NETNS_DIR, LabRecord, remove, tool, wait_until_up
from netstudy.lab.system import netns_path as path_of


def batched(hosts: int) -> tuple[float, float]:
    start = time.perf_counter()
    lab = Lab(lan(hosts)).start()
    built = time.perf_counter()
    assert lab.run("scanner", ["ping", "-c1", "-W1", lab.addresses[f"h{hosts}"].ipv4]).returncode == 0
    before_close = time.perf_counter()
    lab.close()
    return built - start, time.perf_counter() - before_close


def naive(hosts: int) -> tuple[float, float]:
    topology = lan(hosts)
    lab_id = secrets.token_hex(3)
    LabRecord.mine(lab_id, False, topology.to_dict()).save()   # so no other lab takes it for a leftover
    plan = build_plan(topology, lab_id)
    start = time.perf_counter()
    try:
        for argv, stdin in plan.steps():
            subprocess.run([tool(argv[0]), *argv[1:]], input=stdin, text=True, check=True, capture_output=True)
        wait_until_up(plan.interfaces, lambda node: path_of(lab_id, node))
        built = time.perf_counter()
        ping = ["ip", "netns", "exec", plan.ns("scanner"), "ping", "-c1", "-W1", topology.addresses(f"h{hosts}").ipv4]
        assert subprocess.run(ping, capture_output=True).returncode == 0
        before_close = time.perf_counter()
        for node in plan.namespaces:
            subprocess.run(["ip", "netns", "del", plan.ns(node)], check=True)
        closed = time.perf_counter()
    finally:
        remove(lab_id)
    return built - start, closed - before_close


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    NETNS_DIR.mkdir(parents=True, exist_ok=True)
    steps = len(build_plan(lan(args.hosts), "x").steps())
    results = {}
    for name, build in (("netstudy.lab (batched)", batched), ("naive, one process per step", naive)):
        runs = [build(args.hosts) for _ in range(args.rounds)]
        results[name] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
    print(f"lan with {args.hosts} hosts + scanner + switch = {args.hosts + 2} namespaces, {steps} steps; "
          f"median of {args.rounds} rounds")
    for name, (build_s, teardown_s) in results.items():
        print(f"  {name:30s} build {build_s:6.3f} s   teardown {teardown_s:6.3f} s")
    (fast_b, fast_t), (slow_b, slow_t) = results.values()
    print(f"  ratio naive / batched:        build {slow_b / fast_b:5.1f}x    teardown {slow_t / fast_t:5.1f}x")
    print(f"  target: build < 5 s -> {'met' if fast_b < 5 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
