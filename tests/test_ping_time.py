"""Issue 20: when no reply comes back, ping's statistics ``time`` ends at the last probe, as iputils'
does, not after the final ``-W`` wait (iputils ``-c 3 -W 1``: about 2000 ms; netstudy printed 3004 ms)."""
from __future__ import annotations

import re
import subprocess
import sys

from conftest import need_root, tool

NETSTUDY = [sys.executable, "-m", "netstudy.cli"]
# a private network namespace where 192.0.2.2 (TEST-NET-1) is on a link and never answers: its frames go
# into a veth whose other end has no address, so nothing comes back, not even an error
SILENT = ("ip link set lo up && ip link add v0 type veth peer name v1 && ip link set v0 up && ip link set v1 up && "
          "ip addr add 192.0.2.1/24 dev v0 && ip neigh add 192.0.2.2 lladdr 02:00:00:00:00:02 dev v0 && "
          'exec "$@"')


def _statistics(argv: list[str]) -> tuple[int, int, int]:
    proc = subprocess.run([tool("unshare"), "--net", "sh", "-c", SILENT, "sh", *argv, "-n", "-c", "3", "-W", "1",
                           "192.0.2.2"], capture_output=True, text=True, timeout=60)
    match = re.search(r"(\d+) packets transmitted, (\d+) received, .*time (\d+)ms", proc.stdout)
    assert match is not None, (proc.stdout, proc.stderr)
    sent, received, time_ms = map(int, match.groups())
    return sent, received, time_ms


def test_time_without_replies_ends_at_the_last_probe_like_iputils():
    need_root("a network namespace with a silent host")
    theirs = _statistics([tool("ping")])
    ours = _statistics([*NETSTUDY, "ping"])
    assert theirs[:2] == ours[:2] == (3, 0)
    assert 2000 <= ours[2] < 2500 and abs(ours[2] - theirs[2]) < 300, (ours, theirs)
