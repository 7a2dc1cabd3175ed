"""Authoritative DNS on loopback under dnsperf: netstudy's server vs a dnslib server vs dnsmasq (C).

All three answer the same names (www/mail/alias A, AAAA, MX, TXT and an NXDOMAIN) on 127.0.0.1, each
in its own process; dnsperf sends the same query mix to each for the same time, 100 queries
outstanding. Prints queries/s, latency and loss for each, and the ratios.

    .venv/bin/python benchmarks/dns_server.py [--seconds 10] [--rounds 1]
"""
from __future__ import annotations

import argparse
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ZONE = ROOT / "netstudy" / "data" / "zones" / "netstudy.test.zone"
QUERIES = ["www.netstudy.test A", "www.netstudy.test AAAA", "netstudy.test MX", "www.netstudy.test TXT",
           "mail.netstudy.test A", "alias.netstudy.test A", "nope.netstudy.test A"]


def free_port() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, socket.socket() as t:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            try:
                t.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def wait_until_answering(port: int, proc: subprocess.Popen, what: str) -> None:
    """Poll with a raw query until the server replies (or fail naming it)."""
    query = bytes.fromhex("12340100000100000000000003777777086e657473747564790474657374000001 0001".replace(" ", ""))
    deadline = time.monotonic() + 10
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                sys.exit(f"{what} exited: {proc.stderr.read() if proc.stderr else ''}")
            s.sendto(query, ("127.0.0.1", port))
            try:
                s.recvfrom(4096)
                return
            except TimeoutError:
                continue
    sys.exit(f"{what} did not answer on port {port}")


def serve_dnslib(port: int) -> None:
    """A dnslib server answering the zone from a dict {(name, type): [RR]} (the peer being compared)."""
    from dnslib import QTYPE, RCODE, RR
    from dnslib.server import BaseResolver, DNSLogger, DNSServer

    sys.path.insert(0, str(ROOT))
    from netstudy.dns import load_zone
    table: dict[tuple[str, int], list] = {}
    names = set()
    for record in load_zone(ZONE).records():
        try:
            rrs = RR.fromZone(record.to_text())
        except Exception:           # types dnslib cannot read from text (TYPE65280): not in the mix
            continue
        key = (str(record.name).lower(), record.type)
        table.setdefault(key, []).extend(rrs)
        names.add(str(record.name).lower())

    class DictResolver(BaseResolver):
        def resolve(self, request, handler):
            reply = request.reply()
            reply.header.aa = 1
            name, qtype = str(request.q.qname).lower(), request.q.qtype
            for _ in range(8):
                if (name, qtype) in table:
                    for rr in table[(name, qtype)]:
                        reply.add_answer(rr)
                    break
                cname = table.get((name, QTYPE.CNAME))
                if not cname:
                    break
                for rr in cname:
                    reply.add_answer(rr)
                name = str(cname[0].rdata.label).lower()
            if name not in names:
                reply.header.rcode = RCODE.NXDOMAIN
            return reply

    quiet = DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data")   # no per-query logging
    server = DNSServer(DictResolver(), port=port, address="127.0.0.1", logger=quiet)
    server.start()


def dnsmasq_command(port: int, workdir: Path) -> list[str]:
    hosts = workdir / "hosts"
    hosts.write_text("127.0.0.80 www.netstudy.test\n::1 www.netstudy.test\n127.0.0.25 mail.netstudy.test\n")
    hosts.chmod(0o644)
    workdir.chmod(0o755)
    return [shutil.which("dnsmasq", path="/usr/sbin:/usr/bin:/sbin") or "dnsmasq", "--no-daemon",
            f"--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
            f"--addn-hosts={hosts}", "--conf-file=/dev/null", "--pid-file=", "--local=/netstudy.test/",
            "--mx-host=netstudy.test,mail.netstudy.test,10", "--txt-record=www.netstudy.test,hello from netstudy",
            "--cname=alias.netstudy.test,www.netstudy.test", "--cache-size=0", "--local-ttl=3600"]


def dnsperf(port: int, seconds: float, datafile: Path) -> dict[str, float]:
    out = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(datafile), "-l", str(seconds),
                          "-q", "100", "-t", "2"], capture_output=True, text=True, check=True).stdout

    def number(label: str) -> float:
        m = re.search(rf"{label}:\s+([\d.]+)", out)
        if m is None:
            sys.exit(f"dnsperf output without {label!r}:\n{out}")
        return float(m.group(1))

    codes = re.search(r"Response codes:\s+(.*)", out)
    return {"qps": number("Queries per second"), "latency_ms": number(r"Average Latency \(s\)") * 1000,
            "sent": number("Queries sent"), "lost": number("Queries lost"),
            "rcodes": re.sub(r" \d+ \(", " (", codes.group(1)) if codes else "none"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="dnsperf run per server (default 10)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the three servers in turn this many times and keep each one's best run "
                             "(steadier ratios on a shared machine; default 1)")
    parser.add_argument("--serve-dnslib", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_dnslib:
        serve_dnslib(args.serve_dnslib)
        signal.pause()
        return
    if shutil.which("dnsperf") is None:
        sys.exit("dnsperf is not installed (apt-get install dnsperf)")
    work = Path(tempfile.mkdtemp(prefix="netstudy-dnsbench-"))
    datafile = work / "queries.txt"
    datafile.write_text("\n".join(QUERIES) + "\n")
    servers = {
        "netstudy": lambda p: [sys.executable, "-m", "netstudy.cli", "dns", "serve", str(ZONE), "--port", str(p)],
        "dnslib": lambda p: [sys.executable, __file__, "--serve-dnslib", str(p)],
        "dnsmasq (C)": lambda p: dnsmasq_command(p, work),
    }
    results: dict[str, dict] = {}
    for _ in range(args.rounds):
        for name, command in servers.items():
            port = free_port()
            proc = subprocess.Popen(command(port), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                    cwd=ROOT)
            try:
                wait_until_answering(port, proc, name)
                run = dnsperf(port, args.seconds, datafile)
            finally:
                proc.send_signal(signal.SIGINT if name == "netstudy" else signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
            if name not in results or run["qps"] > results[name]["qps"]:
                results[name] = run
    best = f", best of {args.rounds} rounds" if args.rounds > 1 else ""
    print(f"dnsperf -l {args.seconds:g} -q 100, {len(QUERIES)} query types, one server process each, "
          f"127.0.0.1{best}")
    print(f"{'server':<14}{'queries/s':>12}{'avg latency':>14}{'sent':>11}{'lost':>8}   response codes")
    for name, r in results.items():
        print(f"{name:<14}{r['qps']:>12,.0f}{r['latency_ms']:>11.3f} ms{r['sent']:>11,.0f}{r['lost']:>8,.0f}   "
              f"{r['rcodes']}")
    ours = results["netstudy"]["qps"]
    print(f"netstudy / dnslib:  {ours / results['dnslib']['qps']:.1f}x queries/s (target >= 5x, 0 lost)")
    print(f"netstudy / dnsmasq: {ours / results['dnsmasq (C)']['qps']:.2f}x queries/s")


if __name__ == "__main__":
    main()
