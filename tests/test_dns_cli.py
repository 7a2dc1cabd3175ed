"""`netstudy dns query|serve` and the seed's toy."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import netstudy
from netstudy.cli import main
from netstudy.dns import DnsServer
from netstudy.dns.seed import ToyServer, answer_text, hosts_names, toy_lookup

ZONES = Path(netstudy.__file__).parent / "data" / "zones"
ZONE_FILES = [ZONES / "netstudy.test.zone", ZONES / "127.in-addr.arpa.zone"]

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def port():
    with DnsServer(ZONE_FILES, port=0) as srv:
        yield srv.port


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_query_prints_like_dig(capsys, port):
    code, out, err = run(capsys, "dns", "query", "www.netstudy.test", "AAAA", "@127.0.0.1", "-p", str(port))
    assert code == 0 and not err
    assert re.search(r";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: \d+\n"
                     r";; flags: qr aa rd; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1", out)
    assert ";; QUESTION SECTION:\n;www.netstudy.test.\t\tIN\tAAAA" in out
    assert ";; ANSWER SECTION:\nwww.netstudy.test.\t3600\tIN\tAAAA\t::1" in out
    assert re.search(r";; Query time: \d+ msec\n;; SERVER: 127\.0\.0\.1#\d+\(127\.0\.0\.1\) \(UDP\)", out)


def test_query_options(capsys, port):
    p = str(port)
    assert run(capsys, "dns", "query", "-x", "127.0.0.80", "-p", p, "+short")[1] == "www.netstudy.test.\n"
    assert run(capsys, "dns", "query", "MX", "netstudy.test", "+short", "-p", p)[1] == \
        "10 mail.netstudy.test.\n20 mail2.netstudy.test.\n"
    _, out, _ = run(capsys, "dns", "query", "many.netstudy.test", "+noedns", "-p", p)
    assert out.startswith(";; Truncated, retrying in TCP mode.") and "(TCP)" in out and "ANSWER: 40" in out
    _, out, _ = run(capsys, "dns", "query", "nope.netstudy.test", "+norecurse", "-p", p)
    assert "status: NXDOMAIN" in out and "flags: qr aa;" in out and ";; AUTHORITY SECTION:" in out


@pytest.mark.parametrize("argv, message", [
    (["www.netstudy.test", "BOGUS"], "'BOGUS' is not a DNS type"),
    (["www.netstudy.test", "@dns.example.com"], "server 'dns.example.com' is not an IP address"),
    ([], "no name to look up"),
    (["www.netstudy.test", "+frobnicate"], "unknown or malformed option '+frobnicate'"),
    (["-x", "300.1.1.1"], "'300.1.1.1' does not appear to be an IPv4 or IPv6 address"),
    (["www.netstudy.test", "+bufsize=100"], "+bufsize must be a whole number from 512 to 65535, not '100'"),
])
def test_bad_arguments_are_one_line(capsys, argv, message):
    code, out, err = run(capsys, "dns", "query", *argv)
    assert code == 2 and not out
    assert err.count("\n") == 1 and err.startswith("netstudy dns: ") and message in err


def test_timeout_is_one_line(capsys):
    code, _, err = run(capsys, "dns", "query", "www.netstudy.test", "-p", "9", "+timeout=0.3", "+tries=2")
    assert code == 2 and err == "netstudy dns: no answer from 127.0.0.1#9 for www.netstudy.test. A after 2 tries " \
                                "in 0.3 s\n"


def test_serve_until_ctrl_c():
    proc = subprocess.Popen([sys.executable, "-m", "netstudy.cli", "dns", "serve", *map(str, ZONE_FILES),
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = [proc.stdout.readline() for _ in range(3)]
    assert lines[:2] == ["zone netstudy.test.: 70 records\n", "zone 127.in-addr.arpa.: 6 records\n"]
    port = int(re.search(r"port (\d+)", lines[2]).group(1))
    out = subprocess.run([sys.executable, "-m", "netstudy.cli", "dns", "query", "www.netstudy.test", "+short",
                          "-p", str(port)], capture_output=True, text=True, timeout=10).stdout
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=5)
    assert out == "127.0.0.80\n" and not err
    assert rest.strip() == "1 UDP and 0 TCP queries, 1 replies, 0 dropped"


def test_serve_reports_a_bad_zone_file_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.zone"
    bad.write_text("$ORIGIN bad.test.\n@ SOA ns h 1 2 3 4 5\nwww A 1.2.3\n")
    code, _, err = run(capsys, "dns", "serve", str(bad), "--port", "0")
    assert code == 2 and err == f"netstudy dns: {bad}:3: A record: '1.2.3' is not an IPv4 address\n"


def test_the_seed_toy_answers_local_names_only():
    """Literals and /etc/hosts names are looked up; anything else, localhost too when /etc/hosts does not
    list it (a fresh minimal Debian has no /etc/hosts), is refused before getaddrinfo() could ask DNS."""
    with ToyServer() as toy:
        assert toy_lookup("127.0.0.1", toy.port) == "127.0.0.1 -> 127.0.0.1"
        assert toy_lookup("www.example.com", toy.port).startswith("error: 'www.example.com' is not in /etc/hosts")
        answer = toy_lookup("localhost", toy.port)
        assert answer == answer_text("localhost")
        if "localhost" in hosts_names():
            assert "127.0.0.1" in answer.split(" -> ")[1].split(", ") or "::1" in answer
        else:
            assert answer.startswith("error: 'localhost' is not in /etc/hosts")
        assert toy_lookup("localhost", toy.port) == answer
    assert toy.served == 4
