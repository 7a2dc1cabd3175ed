"""netstudy.dns: the server's answering logic (sans-I/O) and the live UDP/TCP loop on loopback."""
from __future__ import annotations

import socket
import struct
import time
from pathlib import Path

import pytest

import netstudy
from netstudy.dns import DnsServer, Responder, load_zone, query, query_many
from netstudy.wire.dns import SOA, Message, Question, make_opt

ZONES = Path(netstudy.__file__).parent / "data" / "zones"
ZONE_FILES = [ZONES / "netstudy.test.zone", ZONES / "127.in-addr.arpa.zone"]


@pytest.fixture(scope="module")
def responder() -> Responder:
    return Responder([load_zone(p) for p in ZONE_FILES])


def ask(responder: Responder, name: str, qtype: str = "A", edns: int | None = 1232, tcp: bool = False,
        **flags) -> Message:
    q = Message(id=4242, rd=True, question=[Question(name, qtype)], **flags)
    if edns is not None:
        q.additional.append(make_opt(edns))
    return Message.parse(responder.receive(q.to_wire(), tcp=tcp))


def texts(records) -> list[str]:
    return [r.rdata.to_text() for r in records]


def test_authoritative_answer_echoes_id_and_question(responder):
    r = ask(responder, "WWW.netstudy.TEST")
    assert (r.id, r.qr, r.aa, r.rd, r.status) == (4242, True, True, True, "NOERROR")
    assert str(r.question[0].name) == "WWW.netstudy.TEST."       # case preserved in the echo
    assert texts(r.answer) == ["127.0.0.80"]
    assert r.opt is not None and r.opt.payload_size == 1232


def test_cname_chain_inside_the_zone_is_followed(responder):
    r = ask(responder, "alias.netstudy.test")
    assert [(str(x.name), x.type_text) for x in r.answer] == [
        ("alias.netstudy.test.", "CNAME"), ("alias2.netstudy.test.", "CNAME"), ("www.netstudy.test.", "A")]
    out = ask(responder, "elsewhere.netstudy.test")
    assert texts(out.answer) == ["www.example.org."] and out.status == "NOERROR"


def test_nxdomain_and_nodata_carry_the_soa_with_its_minimum_ttl(responder):
    nx = ask(responder, "nope.netstudy.test")
    assert nx.status == "NXDOMAIN" and nx.aa and not nx.answer
    assert nx.authority[0].type == SOA.TYPE and nx.authority[0].ttl == 300
    nodata = ask(responder, "www.netstudy.test", "MX")
    assert nodata.status == "NOERROR" and not nodata.answer and nodata.authority[0].type == SOA.TYPE
    ent = ask(responder, "b.netstudy.test")             # empty non-terminal: exists, no data
    assert ent.status == "NOERROR" and ent.authority[0].type == SOA.TYPE


def test_delegation_refers_with_ns_and_glue(responder):
    r = ask(responder, "host.sub.netstudy.test")
    assert r.status == "NOERROR" and not r.aa and not r.answer
    assert sorted(texts(r.authority)) == ["ns.sub.netstudy.test.", "ns1.netstudy.test."]
    glue = {str(x.name): x.rdata.to_text() for x in r.additional if x.type == 1}
    assert glue == {"ns.sub.netstudy.test.": "127.0.0.53", "ns1.netstudy.test.": "127.0.0.11"}


def test_every_record_type_in_the_zone(responder):
    assert texts(ask(responder, "netstudy.test", "SOA").answer)[0].startswith("ns1.netstudy.test. hostmaster")
    assert sorted(texts(ask(responder, "netstudy.test", "NS").answer)) == ["ns1.netstudy.test.", "ns2.netstudy.test."]
    mx = ask(responder, "netstudy.test", "MX")
    assert sorted(texts(mx.answer)) == ["10 mail.netstudy.test.", "20 mail2.netstudy.test."]
    assert {str(x.name) for x in mx.additional if x.type in (1, 28)} == {"mail.netstudy.test.", "mail2.netstudy.test."}
    assert texts(ask(responder, "www.netstudy.test", "AAAA").answer) == ["::1"]
    assert texts(ask(responder, "_http._tcp.netstudy.test", "SRV").answer) == ["10 5 8080 www.netstudy.test."]
    assert texts(ask(responder, "netstudy.test", "CAA").answer) == ['0 issue "letsencrypt.org"']
    assert texts(ask(responder, "ptr.netstudy.test", "PTR").answer) == ["www.netstudy.test."]
    assert texts(ask(responder, "80.0.0.127.in-addr.arpa", "PTR").answer) == ["www.netstudy.test."]
    assert texts(ask(responder, "private.netstudy.test", "TYPE65280").answer) == ["\\# 4 0A000001"]
    assert texts(ask(responder, "generic-a.netstudy.test", "A").answer) == ["127.0.0.99"]
    assert len(ask(responder, "netstudy.test", "ANY").answer) == 8


def test_refused_outside_the_zones_and_for_zone_transfers(responder):
    assert ask(responder, "example.com").status == "REFUSED"
    assert ask(responder, "netstudy.test", "AXFR").status == "REFUSED"


def test_truncation_honours_the_edns_size(responder):
    plain = ask(responder, "many.netstudy.test", edns=None)
    assert plain.tc and not plain.answer and plain.question
    small = ask(responder, "many.netstudy.test", edns=512)
    assert small.tc and small.opt is not None
    big = ask(responder, "many.netstudy.test", edns=4096)
    assert not big.tc and len(big.answer) == 40
    tcp = ask(responder, "many.netstudy.test", edns=None, tcp=True)
    assert not tcp.tc and len(tcp.answer) == 40
    assert len(responder.receive(Message(id=1, question=[Question("many.netstudy.test")]).to_wire())) <= 512


def test_malformed_unknown_opcode_bad_version_and_cookies(responder):
    bad = struct.pack("!HHHHHH", 777, 0x0100, 1, 0, 0, 0) + b"\x03www\xc0\x0c\x00\x01\x00\x01"   # pointer loop
    r = Message.parse(responder.receive(bad))
    assert (r.id, r.qr, r.rd, r.status, r.question) == (777, True, True, "FORMERR", [])
    notimp = ask(responder, "www.netstudy.test", opcode=2)
    assert notimp.status == "NOTIMP" and notimp.question[0].name == "www.netstudy.test"
    two = Message(id=5, question=[Question("a.netstudy.test"), Question("b.netstudy.test")])
    assert Message.parse(responder.receive(two.to_wire())).status == "FORMERR"
    v1 = Message(id=6, question=[Question("www.netstudy.test")], additional=[make_opt(version=1)])
    assert Message.parse(responder.receive(v1.to_wire())).status == "BADVERS"
    cookie = Message(id=8, question=[Question("www.netstudy.test")],
                     additional=[make_opt(options=[(10, bytes.fromhex("0102030405060708"))])])
    answer = Message.parse(responder.receive(cookie.to_wire()))
    assert answer.status == "NOERROR" and answer.opt.rdata.options == ()
    assert responder.receive(b"\x01\x02\x03") is None                     # no header: dropped
    assert responder.receive(Message(id=9, qr=True).to_wire()) is None     # a response: never answered


def test_cached_replies_carry_each_querys_id(responder):
    first = Message(id=1, rd=True, question=[Question("www.netstudy.test")]).to_wire()
    again = b"\x99\x99" + first[2:]
    assert responder.receive(first)[:2] == b"\x00\x01"
    assert first[2:] in responder.cache
    assert responder.receive(again)[:2] == b"\x99\x99"
    assert responder.receive(again)[2:] == responder.receive(first)[2:]


# -- live ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server():
    with DnsServer(ZONE_FILES, port=0) as srv:
        yield srv


@pytest.mark.live
def test_udp_and_tcp_on_loopback(server):
    udp = query("www.netstudy.test", "A", port=server.port)
    tcp = query("www.netstudy.test", "A", port=server.port, tcp=True)
    assert udp.transport == "UDP" and tcp.transport == "TCP"
    assert udp.answers() == tcp.answers() == ["127.0.0.80"]
    retried = query("many.netstudy.test", "A", port=server.port, edns=None)
    assert retried.transport == "TCP" and retried.truncated_first and len(retried.answers()) == 40


@pytest.mark.live
def test_pipelined_tcp_queries_on_one_connection(server):
    queries = [Message(id=i, question=[Question("www.netstudy.test", t)]).to_wire()
               for i, t in enumerate(["A", "AAAA", "TXT", "MX"])]
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as s:
        s.sendall(b"".join(struct.pack("!H", len(q)) + q for q in queries))
        buf = b""
        replies = []
        while len(replies) < 4:
            buf += s.recv(65535)
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                n = struct.unpack("!H", buf[:2])[0]
                replies.append(Message.parse(buf[2:2 + n]))
                buf = buf[2 + n:]
    assert [r.id for r in replies] == [0, 1, 2, 3]
    assert [len(r.answer) for r in replies] == [1, 1, 1, 0]


@pytest.mark.live
def test_a_stalled_tcp_client_does_not_stall_udp(server):
    stalled = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(5)]
    try:
        for s in stalled:
            s.sendall(b"\x00\x40\x12")            # promises 64 bytes, sends 1, then says nothing
        start = time.perf_counter()
        results = query_many(["www.netstudy.test"] * 50, port=server.port, timeout=2)
        elapsed = time.perf_counter() - start
        assert all(r.answers() == ["127.0.0.80"] for r in results)
        assert elapsed < 1.0
    finally:
        for s in stalled:
            s.close()


@pytest.mark.live
def test_delay_holds_replies_without_blocking_the_loop():
    with DnsServer(ZONE_FILES, port=0, delay=0.2) as srv:
        one = query("www.netstudy.test", port=srv.port)
        assert one.rtt_ms >= 200
        start = time.perf_counter()
        many = query_many(["www.netstudy.test"] * 40, port=srv.port, timeout=3)
        elapsed = time.perf_counter() - start
    assert all(r.answers() == ["127.0.0.80"] for r in many)
    assert 0.2 <= elapsed < 1.0            # 40 replies overlap: about one delay, not 40
    assert srv.stats.replies == 41


@pytest.mark.live
def test_ipv6_loopback_udp_and_tcp():
    with DnsServer(ZONE_FILES, host="::1", port=0) as srv:
        assert query("www.netstudy.test", "AAAA", server="::1", port=srv.port).answers() == ["::1"]
        tcp = query("many.netstudy.test", server="::1", port=srv.port, edns=None)
        assert tcp.transport == "TCP" and tcp.server == ("::1", srv.port) and len(tcp.answers()) == 40


@pytest.mark.live
def test_a_tcp_client_that_never_reads_is_cut_off(server):
    query_bytes = Message(id=1, question=[Question("many.netstudy.test")]).to_wire()
    framed = struct.pack("!H", len(query_bytes)) + query_bytes
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            for _ in range(20000):          # ~700 KB of replies a second, never read
                s.sendall(framed * 50)
        except OSError:
            pass                            # reset: the server hung up on us, as it should
    deadline = time.monotonic() + 5
    while server.stats.tcp_closed["malformed or not reading"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.stats.tcp_closed["malformed or not reading"] >= 1
    assert query("www.netstudy.test", port=server.port).answers() == ["127.0.0.80"]


def test_a_cname_loop_in_the_zone_is_servfail_not_a_hang():
    from netstudy.dns import parse_zone
    loop = Responder(parse_zone("$ORIGIN loop.test.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\na CNAME b\nb CNAME a\n"))
    reply = ask(loop, "a.loop.test")
    assert reply.status == "SERVFAIL" and texts(reply.answer) == ["b.loop.test.", "a.loop.test."]
