"""`netstudy stats FILE`: every table printed as tshark's -z prints it, the plot and Parquet files
written, and every bad input refused in one line with exit status 2."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tshark import CAPTURES

from netstudy import stats

DNS = CAPTURES / "lo_dns.pcap"


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    return subprocess.run([sys.executable, "-m", "netstudy.cli", "stats", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_protocol_hierarchy_is_tsharks_block() -> None:
    out = run(str(DNS))
    assert out.returncode == 0 and out.stderr == ""
    lines = out.stdout.splitlines()
    assert "Protocol Hierarchy Statistics" in lines
    assert "eth                                      frames:20 bytes:1783" in lines
    assert "      dns                                frames:10 bytes:993" in lines
    assert lines[-1] == "=" * 67


def test_conversations_print_both_directions_and_the_total() -> None:
    out = run(str(DNS), "--table", "conv", "--proto", "udp")
    assert out.returncode == 0
    rows = [line for line in out.stdout.splitlines() if "<->" in line]
    assert len(rows) == 5
    # the AAAA query: 95 bytes A->B (the query), 111 bytes B->A (the answer)
    aaaa = r"127\.0\.0\.1:54020\s+<-> 127\.0\.0\.1:53\s+1 111 bytes\s+1 95 bytes\s+2 206 bytes\s+0\.035737000"
    assert re.search(aaaa, out.stdout)


def test_endpoints_io_rtt_dns_flags() -> None:
    endpoints = run(str(DNS), "--table", "endpoints", "--proto", "tcp").stdout
    assert re.search(r"^127\.0\.0\.1\s+33411\s+10\s+790\s+6\s+459\s+4\s+331$", endpoints, re.M)
    io = run(str(DNS), "--table", "io", "--interval", "0.05").stdout
    assert [tuple(map(int, m)) for m in re.findall(r"\|\s+(\d+) \|\s+(\d+) \|$", io, re.M)] == [
        (4, 400), (2, 215), (4, 378), (10, 790)]
    rtt = run(str(DNS), "--table", "rtt").stdout
    assert re.search(r"127\.0\.0\.1\s+33411\s+127\.0\.0\.1\s+53\s+0\.159\s+1 SYN/ACK\s+0\.033\s+0\.011\s+0\.044", rtt)
    dns = run(str(DNS), "--table", "dns").stdout
    assert "nosuch.lab.test." in dns and "NXDOMAIN" in dns and dns.count("NOERROR") == 4
    flags = run(str(DNS), "--table", "flags").stdout
    assert re.search(r"127\.0\.0\.1\s+33411\s+127\.0\.0\.1\s+53\s+FSP\.\s+FSP\.\s+2\s+2\s+0", flags)


@pytest.mark.parametrize("table", ["phs", "conv", "endpoints", "io", "rtt", "dns"])
def test_plot_writes_a_png(table: str, tmp_path: Path) -> None:
    out = tmp_path / f"{table}.png"
    result = run(str(DNS), "--table", table, "--plot", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_parquet_holds_the_table(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    import pandas as pd
    out = tmp_path / "conv.parquet"
    assert run(str(DNS), "--table", "conv", "--proto", "udp", "--parquet", str(out)).returncode == 0
    written = pd.read_parquet(out)
    expected = stats.conversations(DNS, "udp")
    assert written[["address_a", "port_a", "frames", "bytes"]].astype(str).equals(
        expected[["address_a", "port_a", "frames", "bytes"]].astype(str))


def test_output_is_not_a_terminal_so_no_progress_bar(tmp_path: Path) -> None:
    out = run(str(CAPTURES / "lo_nmap_sS.pcap"), "--table", "phs")
    assert out.returncode == 0 and out.stderr == ""


@pytest.mark.parametrize(("args", "message"), [
    (["/nonexistent.pcap"], "/nonexistent.pcap: no such capture file"),
    (["/etc/passwd"], "not a pcap or pcapng file"),
    ([str(DNS), "--table", "rtt", "--proto", "tcp"], "--proto applies to --table conv, endpoints, io, not rtt"),
    ([str(DNS), "--table", "nosuch"], "invalid choice: 'nosuch'"),
    ([str(DNS), "--proto", "sctp", "--table", "conv"], "invalid choice: 'sctp'"),
    ([str(DNS), "--table", "io", "--interval", "0"], "interval must be a number above 0"),
    ([str(DNS), "--table", "io", "--interval", "nan"], "interval must be a number above 0"),
    ([str(DNS), "--table", "flags", "--plot", "/tmp/never.png"], "--table flags has no plot"),
    ([str(DNS), "--table", "conv", "--plot", "/nonexistent-dir/x.png"], "No such file or directory"),
])
def test_bad_input_is_one_line_exit_2(args: list[str], message: str) -> None:
    out = run(*args)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("netstudy stats: ") and message in out.stderr
    assert "Traceback" not in out.stderr


def test_cut_capture_is_read_as_far_as_it_goes(tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(DNS.read_bytes()[:-30])
    out = run(str(cut), "--table", "conv", "--proto", "udp")
    assert out.returncode == 0 and out.stdout.count("<->") == 5
