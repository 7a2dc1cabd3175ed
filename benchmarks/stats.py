"""Capture statistics at scale: the columnar reader against dpkt + pandas, and the TCP conversation
table against tshark, on one reproducible capture, in one run.

    python benchmarks/stats.py                     # 1,000,000 packets: benchmarks/data/mixed-1m.pcap (made if missing)
    python benchmarks/stats.py --packets 100000    # a quicker run

Three measurements:

1. per-packet table: ``netstudy.stats.read_columns`` against dpkt's parsers feeding pandas
   (``parse_pcap.dpkt_frame``, the table of ``benchmarks/parse_pcap.py``: it also writes each packet's
   tcpdump summary line, which the columnar reader does not), both restricted to the columns they share
   and asserted identical after timing. CPU seconds (``time.process_time``), rounds alternating, the
   median of the rounds' ratios.
2. TCP conversations: ``conversations(read_columns(f), "tcp")`` in a fresh Python process (wall time,
   imports included) against ``tshark -q -z conv,tcp -r f`` (wall time of the process); the two tables
   are compared: the same conversations with the same frames each way.
3. peak memory: ``ru_maxrss`` of that Python process (reading the capture and building the table),
   measured first: a child's ``ru_maxrss`` starts from what its parent had when it forked, so the
   process is started before this one holds the tables of measurement 1.

Targets (issue 16): the table ≥ 10× dpkt + pandas; conversations faster than tshark; peak < 1 GiB.
"""
from __future__ import annotations

import argparse
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import make_mixed_pcap  # noqa: E402
import parse_pcap  # noqa: E402

from netstudy.stats import read_columns  # noqa: E402
from netstudy.stats.columns import SHARED_COLUMNS  # noqa: E402

# what the timed Python process runs: read the capture, build the table, report its peak memory
CONVERSATIONS = """
import pickle, resource, sys
from netstudy.stats import conversations, read_columns
table = conversations(read_columns(sys.argv[1]), "tcp")
with open(sys.argv[2], "wb") as out:
    pickle.dump(table, out)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
# a tshark conv line: A <-> B, then frames and bytes (with a unit) B->A, A->B, total, start, duration
TSHARK_CONV = re.compile(r"^(\S+)\s+<->\s+(\S+)\s+([\d,]+)\s+\S+\s+\S+\s+([\d,]+)\s+\S+\s+\S+\s+([\d,]+)\s")


def ours_table(path: Path):
    return read_columns(path)[list(SHARED_COLUMNS)]


def dpkt_table(path: Path):
    return parse_pcap.dpkt_frame(path)[list(SHARED_COLUMNS)]


def ours_conversations(path: Path) -> tuple[float, int, object]:
    """Wall seconds of a fresh Python process building the TCP conversation table, its peak memory
    (bytes, ru_maxrss), and the table."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "conversations.pickle"
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", CONVERSATIONS, str(path), str(out)], capture_output=True,
                              text=True, check=True)
        wall = time.perf_counter() - start
        with open(out, "rb") as f:
            table = pickle.load(f)          # noqa: S301  (written by the process above)
    return wall, int(done.stdout.split()[-1]) * 1024, table


def tshark_conversations(path: Path) -> tuple[float, Counter]:
    """Wall seconds of ``tshark -q -z conv,tcp -r path``, and its frames per direction ("A:port" to "B:port")."""
    start = time.perf_counter()
    done = subprocess.run(["tshark", "-q", "-z", "conv,tcp", "-r", str(path)], capture_output=True, text=True,
                          check=True)
    wall = time.perf_counter() - start
    frames: Counter = Counter()
    for line in done.stdout.splitlines():
        match = TSHARK_CONV.match(line)
        if match:
            a, b, b_to_a, a_to_b, _ = match.groups()
            frames[a, b] += int(a_to_b.replace(",", ""))
            frames[b, a] += int(b_to_a.replace(",", ""))
    return wall, frames


def directed_frames(table) -> Counter:
    """A conversation table's frames per direction, keyed as tshark writes the ends (``10.0.0.1:80``)."""
    frames: Counter = Counter()
    for row in table.itertuples():
        a, b = f"{row.address_a}:{row.port_a}", f"{row.address_b}:{row.port_b}"
        frames[a, b] += int(row.frames_a_to_b)
        frames[b, a] += int(row.frames_b_to_a)
    return frames


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=1_000_000, help="packets in the generated capture")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the table race")
    args = parser.parse_args()
    path = HERE / "data" / ("mixed-1m.pcap" if args.packets == 1_000_000 else f"mixed-{args.packets}.pcap")
    if not path.exists():
        print(f"generating {path} ({args.packets} packets)...")
        make_mixed_pcap.generate(path, args.packets)
    size = path.stat().st_size
    print(f"{path.name}: {args.packets:,} packets, {size / 2**20:,.0f} MiB\n")

    wall, peak, table = ours_conversations(path)
    print("TCP conversations (wall seconds of one process, start-up and imports included)")
    print(f"  conversations(read_columns(f), 'tcp') {wall:7.2f} s   {len(table):,} conversations")
    status = 0
    if shutil.which("tshark"):
        tshark_wall, tshark_frames = tshark_conversations(path)
        print(f"  tshark -q -z conv,tcp -r f            {tshark_wall:7.2f} s   tshark/netstudy = "
              f"{tshark_wall / wall:4.1f}×  (target > 1×)")
        ours_frames = directed_frames(table)
        if ours_frames != tshark_frames:
            differ = sorted(k for k in ours_frames.keys() | tshark_frames.keys() if ours_frames[k] != tshark_frames[k])
            print(f"FAIL: {len(differ)} directions differ from tshark's, first {differ[0]}: netstudy "
                  f"{ours_frames[differ[0]]} frames, tshark {tshark_frames[differ[0]]}", file=sys.stderr)
            status = 1
        else:
            print(f"  the same {len(table):,} conversations as tshark's, the same frames each way")
    else:
        print("  tshark is not installed: no comparison")
    print(f"  peak memory of that process (ru_maxrss): {peak / 2**20:,.0f} MiB  (target < 1024 MiB)")

    import pandas  # noqa: F401  (both contenders build pandas tables: imported before the clock starts)
    ours, theirs, ratio, our_frame, their_frame = parse_pcap.race(ours_table, dpkt_table, path, args.rounds)
    print("\nper-packet table (CPU seconds, best round; ratio = median of the rounds' ratios)")
    print(f"  netstudy.stats.read_columns {ours:7.2f} s  {args.packets / ours:>12,.0f} packets/s")
    print(f"  dpkt + pandas               {theirs:7.2f} s  {args.packets / theirs:>12,.0f} packets/s   "
          f"ratio {ratio:5.1f}×  (target ≥ 10×)")
    try:
        parse_pcap.assert_same_table(our_frame, their_frame)
    except AssertionError as exc:
        print(f"FAIL: the two tables are not the same: {exc}", file=sys.stderr)
        return 1
    print(f"  the two tables are identical: {len(our_frame)} rows × {len(our_frame.columns)} columns, same dtypes")
    return status


if __name__ == "__main__":
    sys.exit(main())
