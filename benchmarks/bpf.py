"""The BPF optimiser's effect: instructions per expression, ours before and after netstudy.wire.bpf.optimize
beside `tcpdump -d`'s, and the time our interpreter takes over a capture with each program.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bpf.py                  # tests/bpf_expressions.py, 5,000 frames
    PYTHONPATH=$PWD .venv/bin/python benchmarks/bpf.py --packets 20000 --expressions 'port 80' 'tcp'

The capture is benchmarks/make_mixed_pcap.py's mixed traffic (written to a temporary file). The table
marks with '>' an expression whose optimised program is still longer than tcpdump's; the totals sum over
the expressions. Each program is timed by run() over every frame, best of --repeat runs. Target (issue 15):
the everyday expressions (tcp, udp, icmp, host A, port N, tcp port N, src host A and dst port N, net CIDR,
not port 22, ip6 and tcp) no longer than tcpdump's.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from netstudy import pcap
from netstudy.wire.bpf import BpfProgram, compile_filter

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))
EVERYDAY = ("tcp", "udp", "icmp", "host 10.0.0.1", "port 80", "tcp port 80", "src host 10.0.0.1 and dst port 53",
            "net 10.0.0.0/8", "not port 22", "ip6 and tcp")


def tcpdump_length(expression: str) -> int:
    done = subprocess.run(["tcpdump", "-d", "-y", "EN10MB", expression], capture_output=True, text=True, check=True)
    return done.stdout.count("\n")


def short(expression: str) -> str:
    return expression if len(expression) <= 48 else expression[:45] + "..."


def seconds(program: BpfProgram, frames: list[tuple[bytes, int]], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for data, length in frames:
            program.run(data, length)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    from bpf_expressions import EXPRESSIONS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--packets", type=int, default=5000, help="frames of mixed traffic (default 5000)")
    parser.add_argument("--repeat", type=int, default=3, help="timing runs per program, the best kept (default 3)")
    parser.add_argument("--expressions", nargs="*", help="expressions (default: tests/bpf_expressions.py and the "
                                                         "everyday ones)")
    args = parser.parse_args()
    expressions = args.expressions or list(EXPRESSIONS) + [e for e in EVERYDAY if e not in EXPRESSIONS]
    with tempfile.TemporaryDirectory() as tmp:
        capture = Path(tmp) / "mixed.pcap"
        subprocess.run([sys.executable, str(HERE / "make_mixed_pcap.py"), "--packets", str(args.packets),
                        "--out", str(capture)], check=True, capture_output=True)
        frames = [(bytes(r.data), r.length) for r in pcap.read(capture)]
    print(f"{'expression':<48} {'before':>6} {'after':>6} {'tcpdump':>7}   {'run before':>10} {'run after':>9}")
    totals = [0, 0, 0, 0.0, 0.0]
    longer = []
    for expression in expressions:
        before, after = compile_filter(expression, optimize=False), compile_filter(expression)
        theirs = tcpdump_length(expression)
        timed = seconds(before, frames, args.repeat), seconds(after, frames, args.repeat)
        mark = ">" if len(after) > theirs else " "
        if len(after) > theirs:
            longer.append(short(expression))
        name = short(expression)
        print(f"{name:<48} {len(before):>6} {len(after):>6} {theirs:>7}{mark}  {timed[0] * 1e3:>8.1f}ms "
              f"{timed[1] * 1e3:>7.1f}ms")
        for i, value in enumerate((len(before), len(after), theirs, *timed)):
            totals[i] += value
    print(f"{'total (' + str(len(expressions)) + ' expressions)':<48} {totals[0]:>6} {totals[1]:>6} {totals[2]:>7}   "
          f"{totals[3]:>8.2f}s {totals[4]:>7.2f}s")
    print(f"instructions: {totals[1] / totals[0]:.2f}x of the unoptimised, {totals[1] / totals[2]:.2f}x of tcpdump's; "
          f"interpreter time over {len(frames)} frames: {totals[4] / totals[3]:.2f}x")
    everyday = [e for e in EVERYDAY if short(e) in longer]
    print(f"longer than tcpdump's: {len(longer)} ({', '.join(longer) or 'none'}); everyday ones among them: "
          f"{', '.join(everyday) or 'none'}")
    start = time.perf_counter()
    for expression in expressions:
        compile_filter(expression, optimize=False)
    plain = time.perf_counter() - start
    start = time.perf_counter()
    for expression in expressions:
        compile_filter(expression)
    print(f"compiling all: {plain * 1e3:.0f} ms unoptimised, {(time.perf_counter() - start) * 1e3:.0f} ms optimised")


if __name__ == "__main__":
    main()
