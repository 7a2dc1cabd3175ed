"""Robustness: over 100,000 random and mutated queries, and the hostile corpus, at a running server.

The server runs as `netstudy dns serve` in its own process, so a crash shows as an exit. Queries go
out in batches from a non-blocking socket and replies are drained between batches. Every reply must
parse, be a response, and be FORMERR whenever the query did not parse; the server must still answer a
valid query correctly at the end.
"""
from __future__ import annotations

import random
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_dns_codec import HOSTILE

import netstudy
from netstudy.dns import query
from netstudy.errors import DecodeError
from netstudy.wire.dns import Message, Question, make_opt

ZONE = Path(netstudy.__file__).parent / "data" / "zones" / "netstudy.test.zone"
TOTAL = 100_000
BATCH = 400

pytestmark = [pytest.mark.live, pytest.mark.slow]


@pytest.fixture
def served():
    proc = subprocess.Popen([sys.executable, "-m", "netstudy.cli", "dns", "serve", str(ZONE), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    port = None
    for _ in range(3):
        line = proc.stdout.readline()
        if "port" in line:
            port = int(line.split("port ")[1].split()[0])
            break
    assert port, proc.stderr.read()
    yield proc, port
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()


def _seeds() -> list[bytes]:
    seeds = []
    for name, qtype in [("www.netstudy.test", "A"), ("many.netstudy.test", "A"), ("nope.netstudy.test", "MX"),
                        ("alias.netstudy.test", "AAAA"), ("x.sub.netstudy.test", "A"), ("example.com", "TXT")]:
        q = Message(id=0, rd=True, question=[Question(name, qtype)])
        seeds.append(q.to_wire())
        q.additional.append(make_opt(1232, options=[(10, bytes(8))]))
        seeds.append(q.to_wire())
    return seeds


def _fuzz_case(rng: random.Random, seeds: list[bytes]) -> bytes:
    kind = rng.random()
    if kind < 0.3:
        return rng.randbytes(rng.randint(0, 80))
    wire = bytearray(rng.choice(seeds))
    for _ in range(rng.randint(1, 5)):
        op = rng.random()
        pos = rng.randrange(len(wire)) if wire else 0
        if op < 0.6 and wire:
            wire[pos] = rng.randrange(256)
        elif op < 0.75:
            del wire[pos:pos + rng.randint(1, 6)]
        elif op < 0.9:
            wire[pos:pos] = rng.randbytes(rng.randint(1, 6))
        else:
            wire[pos:pos] = rng.choice([b"\xc0\x0c", b"\xc0\xff", b"\x40", b"\x80", b"\xff\xff"])
    if rng.random() < 0.7 and len(wire) >= 3:
        wire[2] &= 0x7F                   # mostly keep QR=0 so the server has to look at it
    return bytes(wire)


def _parses(data: bytes) -> bool:
    try:
        Message.parse(data)
        return True
    except DecodeError:
        return False


def _check_reply(reply: bytes, sent: dict[int, bytes], problems: list[str]) -> str:
    try:
        msg = Message.parse(reply)
    except DecodeError as exc:
        problems.append(f"unparseable reply {reply[:20].hex()}: {exc}")
        return "bad"
    if not msg.qr:
        problems.append(f"reply without QR: {reply[:20].hex()}")
    original = sent.get(msg.id)
    if original is not None and not _parses(original) and msg.status != "FORMERR":
        problems.append(f"{msg.status} for a malformed query {original.hex()}")
    return msg.status


def test_fuzz_the_running_server(served):
    proc, port = served
    rng = random.Random(20261125)
    seeds = _seeds()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.setblocking(False)
    server = ("127.0.0.1", port)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    statuses: dict[str, int] = {}
    problems: list[str] = []
    sent: dict[int, bytes] = {}
    replies = 0
    start = time.monotonic()

    def drain(until: int, wait: float) -> None:
        """Read replies until ``until`` have come (flow control: at most one batch in flight) or ``wait`` s."""
        nonlocal replies
        deadline = time.monotonic() + wait
        while replies < until and sel.select(max(0.0, deadline - time.monotonic())):
            while True:
                try:
                    reply = sock.recv(65535)
                except BlockingIOError:
                    break
                replies += 1
                status = _check_reply(reply, sent, problems)
                statuses[status] = statuses.get(status, 0) + 1

    n = expected = 0
    while n < TOTAL:
        for _ in range(BATCH):
            case = _fuzz_case(rng, seeds)
            if len(case) >= 2:
                ident = n & 0xFFFF
                case = struct.pack("!H", ident) + case[2:]
                sent[ident] = case
            expected += len(case) >= 12 and not case[2] & 0x80   # the server drops stubs and responses
            sock.sendto(case, server)
            n += 1
        drain(expected, 5.0)
        assert proc.poll() is None, f"the server exited: {proc.stderr.read()}"
    drain(expected, 5.0)
    elapsed = time.monotonic() - start

    # the hostile corpus, one at a time: FORMERR for each query the server can reply to, else silence
    for name, (data, _, _) in HOSTILE.items():
        sock.sendto(data, server)
        got = []
        if sel.select(0.3):
            got.append(sock.recv(65535))
        if len(data) >= 12 and not data[2] & 0x80:
            assert got and Message.parse(got[0]).status == "FORMERR", name
            assert got[0][:2] == data[:2]
        else:
            assert not got, f"{name}: a response or a stub got a reply"
    sock.close()

    assert not problems, problems[:5]
    assert replies == expected, f"{expected - replies} queries that deserved a reply got none"
    assert statuses.get("FORMERR", 0) > 10_000 and len(statuses) >= 4, statuses
    assert elapsed < 60, f"fuzzing took {elapsed:.0f} s"
    # still alive and still right
    lookup = query("www.netstudy.test", port=port, timeout=2)
    assert lookup.answers() == ["127.0.0.80"] and proc.poll() is None
    tcp = query("many.netstudy.test", port=port, edns=None)
    assert tcp.transport == "TCP" and len(tcp.answers()) == 40
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=5)
    udp_seen = int(out.strip().splitlines()[-1].split()[0])
    assert udp_seen >= TOTAL + len(HOSTILE)


def test_tcp_garbage_is_answered_or_hung_up_on(served):
    proc, port = served
    rng = random.Random(7)
    seeds = _seeds()
    for i in range(300):
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            case = _fuzz_case(rng, seeds)
            framed = struct.pack("!H", len(case)) + case if i % 3 else rng.randbytes(rng.randint(1, 40))
            s.sendall(framed)
            s.shutdown(socket.SHUT_WR)
            data = b""
            try:
                while chunk := s.recv(65535):
                    data += chunk
            except (TimeoutError, ConnectionResetError):
                pass
        if len(data) >= 2:
            length = struct.unpack("!H", data[:2])[0]
            assert Message.parse(data[2:2 + length]).qr
    assert proc.poll() is None
    assert query("www.netstudy.test", port=port, tcp=True).answers() == ["127.0.0.80"]
