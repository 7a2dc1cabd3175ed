"""Soak: 1,000 clients on one ChatServer talking for a bounded time; nothing lost, memory bounded."""
from __future__ import annotations

import threading

import pytest

from netstudy.chat import ChatServer
from netstudy.chat.load import run_load_process

pytestmark = [pytest.mark.live, pytest.mark.slow]


def vm_rss_kib() -> int:
    """This process's resident memory (proc(5), /proc/self/status VmRSS)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def test_thousand_clients_for_ten_seconds():
    with ChatServer() as srv:
        baseline = vm_rss_kib()
        peak = [baseline]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.2):
                peak[0] = max(peak[0], vm_rss_kib())

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:        # each client: one line every 0.5 s for 10 s, every line to the 999 others
            result = run_load_process("127.0.0.1", srv.address[1], 1000, "paced", interval=0.5, duration=10,
                                      probes=10, timeout=60)
        finally:
            done.set()
            sampler.join()
        assert result.error == "" and result.disconnected == 0
        assert result.sent == 20_000
        assert result.delivered == result.expected == 20_000 * 999
        assert srv.accepted == 1000
        assert not any(reason.startswith("send queue") for reason in srv.disconnects)
        growth_mib = (peak[0] - baseline) / 1024
        assert growth_mib < 40, f"server process grew by {growth_mib:.0f} MiB serving 1,000 clients"
