"""tshark as an independent judge: its per-frame field reading of the capture fixtures.

Each fixture `tests/data/captures/NAME` (a .pcap or .pcapng) has `NAME.tsv` beside it: tshark's
`-T fields` output for FIELDS, one row per frame, produced by `fields_tsv()` (run by
tests/data/make_captures.py, or `python tests/tshark.py CAPTURE...` to refresh the TSVs alone).

Use from a test (pytest puts tests/ on sys.path, so it imports as `tshark`):

    from tshark import captures, load
    for cap in captures():
        rows = load(cap)            # list of {field: value}, "" where tshark has no value
        rows[0]["ip.src"], rows[0]["frame.len"]

Decoding is per frame: IPv4/IPv6 reassembly and TCP desegmentation are off (PREFS), so each row says
what that frame alone carries, as `netstudy.wire.decode` sees it.
"""
from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

CAPTURES = Path(__file__).parent / "data" / "captures"

FIELDS: tuple[str, ...] = (
    "frame.number", "frame.time_epoch", "frame.len", "frame.cap_len", "frame.interface_id",
    "eth.src", "eth.dst", "eth.type", "vlan.id",
    "arp.opcode", "arp.src.proto_ipv4", "arp.dst.proto_ipv4",
    "ip.version", "ip.hdr_len", "ip.len", "ip.id", "ip.flags.df", "ip.flags.mf", "ip.frag_offset",
    "ip.ttl", "ip.proto", "ip.checksum", "ip.src", "ip.dst",
    "ipv6.plen", "ipv6.nxt", "ipv6.hlim", "ipv6.src", "ipv6.dst",
    "ipv6.fraghdr.offset", "ipv6.fraghdr.more", "ipv6.fraghdr.ident",
    "icmp.type", "icmp.code", "icmp.checksum", "icmp.ident", "icmp.seq",
    "icmpv6.type", "icmpv6.code",
    "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.hdr_len", "tcp.flags",
    "tcp.window_size_value", "tcp.options.mss_val", "tcp.options.wscale.shift",
    "udp.srcport", "udp.dstport", "udp.length",
    "dns.id", "dns.qry.name",
    "_ws.col.Protocol", "_ws.expert.message",
)

# Per-frame decoding, no reassembly across frames.
PREFS: tuple[str, ...] = ("ip.defragment:FALSE", "ipv6.defragment:FALSE", "tcp.desegment_tcp_streams:FALSE")


def tshark_path() -> str:
    """tshark's path. Missing: in a test, a skip naming it (as conftest.tool does); run as a script, an error."""
    path = shutil.which("tshark")
    if path is None:
        if "pytest" in sys.modules:
            import pytest
            pytest.skip("tshark is not installed (make test installs it with apt-get when run as root)")
        raise FileNotFoundError("tshark is not installed (apt-get install tshark)")
    return path


def run_fields(capture: str | Path, fields: tuple[str, ...] | list[str] = FIELDS,
               extra: tuple[str, ...] | list[str] = ()) -> list[dict[str, str]]:
    """Run tshark now on a capture and return its rows for these fields (first occurrence of each)."""
    return _parse(fields_tsv(capture, fields, extra))


def fields_tsv(capture: str | Path, fields: tuple[str, ...] | list[str] = FIELDS,
               extra: tuple[str, ...] | list[str] = ()) -> str:
    """tshark's tab-separated reading of a capture, with a header line naming the fields."""
    cmd = [tshark_path(), "-n", "-r", str(capture), "-T", "fields", "-E", "header=y", "-E", "separator=/t",
           "-E", "occurrence=f"]
    for pref in PREFS:
        cmd += ["-o", pref]
    cmd += list(extra)
    for name in fields:
        cmd += ["-e", name]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out.stdout


def tsv_path(capture: str | Path) -> Path:
    """Where the recorded tshark reading of a fixture lives: the capture's file name plus .tsv."""
    capture = Path(capture)
    return capture.with_name(capture.name + ".tsv")


def load(capture_or_tsv: str | Path) -> list[dict[str, str]]:
    """The recorded tshark rows of a fixture (pass the capture or its .tsv): one dict per frame, in order."""
    path = Path(capture_or_tsv)
    if path.suffix != ".tsv":
        path = tsv_path(path)
    return _parse(path.read_text())


def captures() -> list[Path]:
    """Every capture fixture that has a tshark reading beside it, sorted by name."""
    return sorted(p for p in CAPTURES.iterdir()
                  if p.suffix in (".pcap", ".pcapng") and tsv_path(p).exists())


def _parse(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
    return [dict(row) for row in reader]


def main(paths: list[str]) -> None:
    """Write NAME.tsv beside each capture given."""
    for name in paths:
        tsv_path(name).write_text(fields_tsv(name))


if __name__ == "__main__":
    main(sys.argv[1:])
