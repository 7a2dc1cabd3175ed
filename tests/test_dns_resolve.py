"""netstudy.dns.engine.resolver: the stub resolver's checks, retries and fallbacks, against scripted servers."""
from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from pathlib import Path

import pytest

import netstudy
from netstudy.dns import (
    DnsServer,
    DnsTimeout,
    Exchange,
    ResolveError,
    Responder,
    load_zone,
    query,
    query_async,
    query_many,
    query_many_async,
    resolve,
    reverse,
    run,
    to_frame,
)
from netstudy.wire.dns import Message

ZONES = Path(netstudy.__file__).parent / "data" / "zones"
ZONE_FILES = [ZONES / "netstudy.test.zone", ZONES / "127.in-addr.arpa.zone"]

pytestmark = pytest.mark.live


class Scripted:
    """A UDP server on loopback that records what it receives and answers through ``script``."""

    def __init__(self, script) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.script = script
        self.received: list[tuple[float, bytes, tuple]] = []
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.responder = Responder(load_zone(ZONE_FILES[0]))

    def run(self) -> None:
        while self.running:
            try:
                data, addr = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            self.received.append((time.monotonic(), data, addr))
            self.script(self, data, addr)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join(2)
        self.sock.close()


def test_replies_that_do_not_match_are_ignored_until_the_right_one():
    def script(srv, data, addr):
        good = srv.responder.receive(data)
        wrong_id = bytes([good[0] ^ 0xFF, good[1]]) + good[2:]
        q = Message.parse(data)
        other = Message(id=q.id, qr=True, question=[type(q.question[0])("evil.netstudy.test", 1)]).to_wire()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as spoof:   # right bytes, wrong source port
            spoof.sendto(good, addr)
        for reply in (wrong_id, other, b"garbage", good):
            srv.sock.sendto(reply, addr)

    with Scripted(script) as srv:
        lookup = query("www.netstudy.test", port=srv.port, timeout=2)
    assert lookup.answers() == ["127.0.0.80"]
    assert lookup.ignored == 4 and lookup.tries == 1


def test_ids_and_source_ports_vary_and_edns_is_advertised():
    with Scripted(lambda srv, data, addr: srv.sock.sendto(srv.responder.receive(data), addr)) as srv:
        for _ in range(20):
            query("www.netstudy.test", port=srv.port)
    ids = {data[:2] for _, data, _ in srv.received}
    ports = {addr[1] for _, _, addr in srv.received}
    assert len(ids) >= 18 and len(ports) >= 18
    opt = Message.parse(srv.received[0][1]).opt
    assert opt is not None and opt.payload_size == 1232


def test_retries_back_off_then_time_out():
    with Scripted(lambda srv, data, addr: None) as srv:
        start = time.monotonic()
        with pytest.raises(DnsTimeout, match="after 3 tries in 0.7 s"):
            query("www.netstudy.test", port=srv.port, timeout=0.7, tries=3)
        elapsed = time.monotonic() - start
    sends = [t - start for t, _, _ in srv.received]
    assert len(sends) == 3 and 0.65 <= elapsed < 1.2
    gaps = [b - a for a, b in itertools.pairwise(sends)]
    assert gaps[1] > 1.6 * gaps[0]                    # each wait doubles: 0.1, 0.2, 0.4 s
    assert len({data for _, data, _ in srv.received}) == 1   # the same query (same ID) each time


def test_a_lost_reply_is_recovered_by_the_retry():
    def script(srv, data, addr):
        if len(srv.received) > 1:                     # drop the first try's reply
            srv.sock.sendto(srv.responder.receive(data), addr)

    with Scripted(script) as srv:
        lookup = query("www.netstudy.test", port=srv.port, timeout=1.4, tries=3)
    assert lookup.tries == 2 and lookup.answers() == ["127.0.0.80"]
    assert lookup.elapsed_ns > lookup.rtt_ns


def test_rcodes_are_reported_and_resolve_raises_them():
    with DnsServer(ZONE_FILES, port=0) as srv:
        assert query("nope.netstudy.test", port=srv.port).status == "NXDOMAIN"
        assert query("example.com", port=srv.port).status == "REFUSED"
        with pytest.raises(ResolveError, match="NXDOMAIN from 127.0.0.1#"):
            resolve("nope.netstudy.test", port=srv.port)
        assert resolve("alias.netstudy.test", port=srv.port) == ["127.0.0.80"]
        assert reverse("127.0.0.80", port=srv.port).answers() == ["www.netstudy.test."]


def test_three_drivers_agree_and_keep_many_in_flight():
    questions = [("www.netstudy.test", "A"), ("www.netstudy.test", "AAAA"), ("netstudy.test", "MX"),
                 ("nope.netstudy.test", "A"), ("many.netstudy.test", "A")] * 20
    with DnsServer(ZONE_FILES, port=0, delay=0.1) as srv:
        start = time.perf_counter()
        selected = query_many(questions, port=srv.port, edns=None, timeout=3)
        t_selectors = time.perf_counter() - start
        start = time.perf_counter()
        awaited = run(query_many_async(questions, port=srv.port, edns=None, timeout=3))
        t_asyncio = time.perf_counter() - start
        blocking = [query(n, t, port=srv.port, edns=None) for n, t in questions[:5]]
    assert t_selectors < 1.0 and t_asyncio < 1.5          # 100 queries, each held 0.1 s: they overlap
    for results in (selected, awaited):
        assert [r.status for r in results[:5]] == ["NOERROR", "NOERROR", "NOERROR", "NXDOMAIN", "NOERROR"]
        assert [sorted(r.answers()) for r in results[:5]] == [sorted(b.answers()) for b in blocking]
        assert results[4].transport == "TCP" and results[0].transport == "UDP"
    frame = to_frame(selected)
    assert len(frame) == 100 and set(frame["transport"]) == {"UDP", "TCP"}


def test_asyncio_variant_inside_a_running_loop():
    async def main():
        with DnsServer(ZONE_FILES, port=0) as srv:
            one = await query_async("www.netstudy.test", port=srv.port)
            tcp = await query_async("www.netstudy.test", "TXT", port=srv.port, tcp=True)
            return one, tcp

    one, tcp = asyncio.run(main())
    assert one.answers() == ["127.0.0.80"] and tcp.transport == "TCP" and len(tcp.answers()) == 1


def test_servers_are_addresses_not_names():
    with pytest.raises(ValueError, match="is not an IP address"):
        Exchange("www.netstudy.test", server=("dns.example.com", 53))
    assert Exchange("x.test", server=("localhost", 53)).server == ("127.0.0.1", 53)


def test_no_server_is_a_timeout_in_the_non_blocking_driver():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    [result] = query_many(["www.netstudy.test"], port=port, timeout=0.6)
    assert isinstance(result, DnsTimeout) and "after 3 tries" in str(result)
    assert 0.55 < time.monotonic() - start < 1.0
