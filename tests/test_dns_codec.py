"""netstudy.wire.dns: header, names, every record type, compression, hostile bytes; dnspython as judge."""
from __future__ import annotations

import contextlib
import random
import struct

import dns.edns
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netstudy.errors import DecodeError, InputError
from netstudy.wire import UDP, IPv4, decode
from netstudy.wire.dns import (
    AAAA,
    CAA,
    CNAME,
    DNS,
    MX,
    NS,
    OPT,
    PTR,
    SOA,
    SRV,
    TXT,
    A,
    Message,
    Name,
    Question,
    Record,
    Unknown,
    compression_map,
    make_opt,
    reverse_name,
    tcp_frame,
    tcp_unframe,
    type_code,
)


def every_type_response() -> Message:
    """One reply holding a record of every type the codec knows, names chosen to compress."""
    q = Message(id=0xBEEF, rd=True, question=[Question("www.Example.test", "ANY")])
    r = q.reply(aa=True)
    r.answer = [
        Record("www.Example.test", CNAME("web.example.test"), 300),
        Record("web.example.test", A("192.0.2.1"), 300),
        Record("web.example.test", AAAA("2001:db8::1"), 300),
        Record("example.test", NS("ns1.example.test"), 3600),
        Record("example.test", MX(10, "mail.example.test"), 3600),
        Record("example.test", TXT(("v=spf1 -all", 'say "hi"\\', b"\x00\xff\t ;")), 60),
        Record("example.test", SOA("ns1.example.test", "host\\.master.example.test", 2026112501, 7200, 900,
                                   1209600, 300), 3600),
        Record("_sip._udp.example.test", SRV(10, 5, 5060, "sip.example.test"), 60),
        Record("example.test", CAA(0, "issue", "letsencrypt.org"), 60),
        Record("1.2.0.192.in-addr.arpa", PTR("web.example.test"), 60),
        Record("example.test", Unknown(65280, bytes.fromhex("0a000001")), 60),
    ]
    r.additional = [make_opt(1232, do=True, options=[(10, bytes(8))])]
    return r


# -- the header ---------------------------------------------------------------------------------------

def test_header_field_table_packs_flags_the_way_rfc1035_draws_them():
    h = DNS(id=0x1234, qr=True, opcode=0, aa=True, tc=False, rd=True, ra=False, rcode=3, qdcount=1)
    assert bytes(h).hex() == "1234" "8503" "0001" "0000" "0000" "0000"
    assert h.struct_format == "!HBBHHHH"
    views = {v.name: v for v in h.fields()}
    assert (views["qr"].bit_offset, views["opcode"].bit_offset, views["rcode"].bit_offset) == (16, 17, 28)
    assert views["rcode"].text == "3 (NXDOMAIN)"
    parsed = DNS.parse(bytes.fromhex("abcd01200001000000000001"))
    assert (parsed.id, parsed.rd, parsed.ad, parsed.qdcount, parsed.arcount) == (0xABCD, True, True, 1, 1)


def test_summary_reads_like_tcpdump():
    q = Message(id=1234, rd=True, question=[Question("example.com", "A")])
    assert DNS.parse(q.to_wire()).summary() == "1234+ A? example.com. (29)"
    r = q.reply(aa=True)
    r.answer.append(Record("example.com", A("1.2.3.4"), 60))
    assert DNS.parse(r.to_wire()).summary() == "1234*- 1/0/0 A 1.2.3.4 (45)"
    q.additional.append(make_opt())
    assert DNS.parse(q.to_wire()).summary() == "1234+ [1au] A? example.com. (40)"
    nx = q.reply(3)
    nx.ra = True
    assert DNS.parse(nx.to_wire()).summary().startswith("1234 NXDomain 0/0/0")
    assert DNS.parse(q.to_wire()[:20]).summary() == "1234+ [1au] [|domain]"    # cut: its counts, then the mark


def test_decode_finds_dns_after_udp_port_53():
    q = Message(id=7, rd=True, question=[Question("a.example", "AAAA")]).to_wire()
    frame = bytes(IPv4(src="127.0.0.1", dst="127.0.0.1") / UDP(sport=40000, dport=53) / q)
    packet = decode(frame, linktype=101)
    assert isinstance(packet.layers[-1], DNS)
    assert packet.summary() == "IP 127.0.0.1.40000 > 127.0.0.1.53: 7+ AAAA? a.example. (27)"
    assert packet[DNS].message().question[0].name == "a.example"


# -- names --------------------------------------------------------------------------------------------

def test_names_keep_case_compare_without_it_and_escape_like_dig():
    n = Name("WWW.Example.COM")
    assert str(n) == "WWW.Example.COM." and n == "www.example.com" and hash(n) == hash(Name("www.example.com."))
    odd = Name([b"a.b", b"sp ace", b"\x00\xff", b'q"', b"com"])
    assert str(odd) == 'a\\.b.sp\\032ace.\\000\\255.q\\".com.'
    assert Name(str(odd)).labels == odd.labels
    assert Name.from_text("www", Name("example.com")) == "www.example.com."
    assert Name.from_text("@", Name("example.com")) == "example.com."
    assert str(Name(".")) == "." and Name("").labels == ()
    assert reverse_name("192.0.2.1") == "1.2.0.192.in-addr.arpa."
    assert str(reverse_name("::1")).startswith("1.0.0.0.") and str(reverse_name("::1")).endswith("ip6.arpa.")


@pytest.mark.parametrize("bad, message", [
    ("a" * 64 + ".com", "label of 64 bytes"),
    (".".join(["abcdefg"] * 32), "at most 255"),
    ("a..b", "empty label"),
])
def test_name_rules_are_enforced_with_a_clear_message(bad, message):
    with pytest.raises(InputError, match=message):
        Name(bad)


def test_longest_legal_name_is_255_bytes():
    name = Name(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert name.wire_length == 255
    wire = Message(question=[Question(name)]).to_wire()
    assert Message.parse(wire).question[0].name == name


# -- every record type, both ways, dnspython as the judge ---------------------------------------------

def _normalise(text: str) -> str:
    return " ".join(text.split()).lower()


def test_every_record_type_round_trips_and_dnspython_reads_the_same():
    msg = every_type_response()
    wire = msg.to_wire()
    assert Message.parse(wire) == msg
    theirs = dns.message.from_wire(wire)
    assert theirs.id == 0xBEEF and theirs.flags & dns.flags.AA and theirs.edns == 0
    assert theirs.payload == 1232 and theirs.ednsflags & dns.flags.DO
    ours = [_normalise(r.to_text()) for r in msg.answer]
    judge = []            # dnspython groups records into RRsets: compare record by record
    for rrset in theirs.answer:
        for rd in rrset:
            judge.append(_normalise(f"{rrset.name} {rrset.ttl} IN {dns.rdatatype.to_text(rrset.rdtype)} "
                                    f"{rd.to_text()}"))
    assert sorted(ours) == sorted(judge)


def test_dnspython_messages_parse_to_the_same_records():
    m = dns.message.make_response(dns.message.make_query("host.example.test.", "MX", use_edns=0, payload=4096))
    m.answer.append(dns.rrset.from_text("host.example.test.", 300, "IN", "MX", "10 mx1.example.test.",
                                        "20 mx2.example.test."))
    m.authority.append(dns.rrset.from_text("example.test.", 300, "IN", "NS", "ns.example.test."))
    m.additional.append(dns.rrset.from_text("mx1.example.test.", 300, "IN", "A", "192.0.2.25"))
    m.additional.append(dns.rrset.from_text("mx1.example.test.", 300, "IN", "TYPE65280", "\\# 3 abcdef"))
    wire = m.to_wire()
    ours = Message.parse(wire)
    assert sorted(r.rdata.to_text() for r in ours.answer) == ["10 mx1.example.test.", "20 mx2.example.test."]
    assert ours.authority[0].rdata == NS("ns.example.test")
    assert [r.rdata.to_text() for r in ours.additional] == ["192.0.2.25", "\\# 3 ABCDEF", ""]
    assert ours.opt is not None and ours.opt.payload_size == m.payload
    # the message used compression pointers, and the map shows where they point
    pointers = [p for span in compression_map(wire) for p in span.pieces if p.kind == "pointer"]
    assert pointers and all(p.target < p.offset for p in pointers)
    assert Message.parse(ours.to_wire()) == ours


def test_compression_makes_the_message_shorter_and_points_back():
    msg = every_type_response()
    compressed, plain = msg.to_wire(), msg.to_wire(compress=False)
    assert len(compressed) < len(plain) - 100
    assert Message.parse(plain) == Message.parse(compressed)
    assert dns.message.from_wire(plain) == dns.message.from_wire(compressed)
    spans = compression_map(compressed)
    first = spans[0]
    assert (first.section, first.role, first.offset) == ("question", "qname", 12)
    assert [p.text for p in first.pieces] == ["www", "Example", "test", "."]
    owner = spans[1]      # the CNAME's owner repeats the question name: one pointer to offset 12
    assert [(p.kind, p.target) for p in owner.pieces] == [("pointer", 12)]
    srv_target = next(s for s in spans if s.role == "target" and s.name == "sip.example.test")
    assert all(p.kind != "pointer" for p in srv_target.pieces)   # RFC 2782: SRV targets are not compressed


def test_unknown_types_print_in_rfc3597_form():
    rr = Record("x.test", Unknown(65280, bytes.fromhex("0a000001")), 60)
    assert rr.to_text().endswith("IN\tTYPE65280 \\# 4 0A000001")    # past the tab stop: one space, as dig
    assert Unknown(999, b"").to_text() == "\\# 0"
    assert Unknown(999, bytes(range(30))).to_text() == (      # dig: upper case, a space every 28 bytes
        "\\# 30 " + bytes(range(28)).hex().upper() + " 1C1D")
    assert type_code("TYPE65280") == 65280 and type_code("caa") == 257
    with pytest.raises(InputError, match="not a DNS type"):
        type_code("BOGUS")


def test_edns_fields_pack_into_the_opt_record():
    opt = make_opt(4096, do=True, extended_rcode=1, version=0, options=[(10, b"12345678")])
    m = Message(id=1, qr=True, rcode=0, additional=[opt])
    back = Message.parse(m.to_wire())
    assert (back.opt.payload_size, back.opt.do, back.opt.extended_rcode) == (4096, True, 1)
    assert back.full_rcode == 16 and back.status == "BADVERS"
    assert back.opt.rdata == OPT(((10, b"12345678"),))


def test_dig_style_text():
    text = every_type_response().to_text()
    assert text.startswith(";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 48879\n"
                           ";; flags: qr aa rd; QUERY: 1, ANSWER: 11, AUTHORITY: 0, ADDITIONAL: 1")
    assert "; EDNS: version: 0, flags: do; udp: 1232" in text
    assert ";www.Example.test.\t\tIN\tANY" in text
    assert "web.example.test.\t300\tIN\tA\t192.0.2.1" in text
    assert 'example.test.\t\t60\tIN\tTXT\t"v=spf1 -all" "say \\"hi\\"\\\\" "\\000\\255\\009 ;"' in text


# -- hostile input ------------------------------------------------------------------------------------

HEADER_1Q = bytes.fromhex("abcd0100" "0001" "0000" "0000" "0000")
HEADER_1A = bytes.fromhex("abcd8400" "0000" "0001" "0000" "0000")


def _record(owner: bytes, rtype: int, rdata: bytes, rdlength: int | None = None) -> bytes:
    return owner + struct.pack("!HHIH", rtype, 1, 60, len(rdata) if rdlength is None else rdlength) + rdata


HOSTILE = {
    "pointer to itself": (HEADER_1Q + b"\xc0\x0c" + b"\x00\x01\x00\x01", "qname", 12),
    "pointer loop a->b->a": (HEADER_1A + b"\x01a\xc0\x10" + b"\xc0\x0c" + b"\x00\x01\x00\x01\x00\x00\x00\x00\x00\x00",
                             "name", 14),
    "forward pointer": (HEADER_1Q + b"\xc0\x20" + b"\x00\x01\x00\x01" + bytes(20), "qname", 12),
    "pointer past the end": (HEADER_1Q + b"\x03www\xff\xff" + b"\x00\x01\x00\x01", "qname", 16),
    "label type 01": (HEADER_1Q + b"\x41abc\x00" + b"\x00\x01\x00\x01", "qname", 12),
    "label type 10": (HEADER_1Q + b"\x81a\x00" + b"\x00\x01\x00\x01", "qname", 12),
    "label past the end": (HEADER_1Q + b"\x3fabc\x00\x01\x00\x01", "qname", 12),
    "name without its end": (HEADER_1Q + b"\x03www\x07example", "qname", 24),
    "question cut short": (HEADER_1Q + b"\x03www\x00\x00", "qtype", 17),
    "rdlength past the end": (HEADER_1A + _record(b"\x00", 1, b"\x01\x02\x03\x04", 400), "rdlength", 21),
    "A record of 5 bytes": (HEADER_1A + _record(b"\x00", 1, b"\x01\x02\x03\x04\x05"), "rdata", 23),
    "MX leaves bytes over": (HEADER_1A + _record(b"\x00", 15, b"\x00\x0a\x00\xff"), "rdlength", 26),
    "name in rdata escapes it": (HEADER_1A + _record(b"\x00", 2, b"\x03abc", 2) + b"\x00", "rdata", 23),
    "counts larger than the message": (bytes.fromhex("abcd01000001ffff00000000") + b"\x00\x00\x01\x00\x01",
                                       "ancount", 6),
    "65535 questions in 20 bytes": (bytes.fromhex("abcd0100ffff000000000000") + bytes(8), "qdcount", 4),
    "trailing garbage": (HEADER_1Q + b"\x00\x00\x01\x00\x01" + b"junk", "trailing", 17),
    "header cut short": (b"\xab\xcd\x01", "header", 0),
    "two OPT records": (bytes.fromhex("abcd01000000000000000002") + (b"\x00\x00\x29\x04\xd0" + bytes(6)) * 2,
                        "additional", 34),
    "TXT string past rdata": (HEADER_1A + _record(b"\x00", 16, b"\x05ab"), "rdata", 23),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_messages_raise_decode_error_naming_field_and_offset(case):
    data, field, offset = HOSTILE[case]
    with pytest.raises(DecodeError) as info:
        Message.parse(data)
    err = info.value
    assert (err.layer, err.field, err.offset) == ("DNS", field, offset), str(err)


def test_a_long_chain_of_backward_pointers_stops_at_255_bytes():
    # first answer: an unknown type whose rdata holds five names, each a 60-byte label and a pointer to
    # the one before; the second answer's owner points to the last: 5 x 61 bytes is more than 255
    rdata = bytearray()
    starts = []
    for i in range(5):
        starts.append(23 + len(rdata))            # rdata starts at 12 + 1 (root owner) + 10
        end = struct.pack("!H", 0xC000 | starts[-2]) if i else b"\x00"
        rdata += b"\x3c" + bytes([65 + i]) * 60 + end
    data = (bytes.fromhex("abcd81000000000200000000") + _record(b"\x00", 65280, bytes(rdata))
            + _record(struct.pack("!H", 0xC000 | starts[-1]), 1, bytes(4)))
    with pytest.raises(DecodeError, match="longer than 255") as info:
        Message.parse(data)
    assert info.value.field == "name"


def test_trailing_bytes_can_be_kept_and_reported():
    data, _, _ = HOSTILE["trailing garbage"]
    msg = Message.parse(data, allow_trailing=True)
    assert msg.trailing == b"junk" and msg.question[0].name == Name(".")


# -- properties ---------------------------------------------------------------------------------------

labels = st.binary(min_size=1, max_size=12)
names = st.lists(labels, min_size=0, max_size=4).map(Name)
u16, u32 = st.integers(0, 0xFFFF), st.integers(0, 0x7FFFFFFF)

rdatas = st.one_of(
    st.builds(A, st.ip_addresses(v=4).map(str)),
    st.builds(AAAA, st.ip_addresses(v=6).map(str)),
    st.builds(NS, names), st.builds(CNAME, names), st.builds(PTR, names),
    st.builds(MX, u16, names),
    st.builds(TXT, st.lists(st.binary(max_size=40), min_size=1, max_size=3).map(tuple)),
    st.builds(SOA, names, names, u32, u32, u32, u32, u32),
    st.builds(SRV, u16, u16, u16, names),
    st.builds(CAA, st.integers(0, 255), st.sampled_from(["issue", "issuewild", "iodef"]), st.binary(max_size=30)),
    st.builds(Unknown, st.integers(65280, 65534), st.binary(max_size=30)),   # private-use types
)
records = st.builds(Record, names, rdatas, u32)
messages = st.builds(
    Message, id=u16, qr=st.booleans(), opcode=st.integers(0, 15), aa=st.booleans(), tc=st.booleans(),
    rd=st.booleans(), ra=st.booleans(), ad=st.booleans(), cd=st.booleans(), rcode=st.integers(0, 15),
    question=st.lists(st.builds(Question, names, u16, u16), max_size=2),
    answer=st.lists(records, max_size=4), authority=st.lists(records, max_size=2),
    additional=st.lists(records, max_size=2))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages, st.booleans())
def test_random_messages_round_trip(msg, compress):
    assert Message.parse(msg.to_wire(compress)) == msg


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.builds(Message, id=u16, qr=st.booleans(), rd=st.booleans(),
                 question=st.lists(st.builds(Question, names, u16), max_size=1),
                 answer=st.lists(records, max_size=5, unique_by=lambda r: (r.name, r.type))))
def test_dnspython_reads_random_messages_the_same(msg):
    # one record per (name, type): dnspython groups a message's records into RRsets
    theirs = dns.message.from_wire(msg.to_wire())
    assert theirs.id == msg.id
    assert sum(len(rrset) for rrset in theirs.answer) == len(msg.answer)
    assert Message.parse(theirs.to_wire()) == msg


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_decode_error(data):
    try:
        Message.parse(data)
    except DecodeError as exc:
        assert exc.layer == "DNS" and 0 <= exc.offset <= len(data)


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_mutated_messages_raise_only_decode_error(data):
    wire = bytearray(every_type_response().to_wire())
    for _ in range(data.draw(st.integers(1, 6))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = data.draw(st.integers(0, len(wire) - 1))
        if op == "flip":
            wire[pos] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del wire[pos:pos + data.draw(st.integers(1, 8))]
        else:
            wire[pos:pos] = data.draw(st.binary(min_size=1, max_size=4))
        if not wire:
            break
    try:
        Message.parse(bytes(wire))
    except DecodeError as exc:
        assert exc.layer == "DNS"


def test_seeded_mutations_never_hang():
    """20,000 seeded random byte changes: each parse ends (DecodeError or a message), none loops."""
    rng = random.Random(5)
    base = every_type_response().to_wire()
    for _ in range(20_000):
        wire = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            wire[rng.randrange(len(wire))] = rng.randrange(256)
        with contextlib.suppress(DecodeError):
            Message.parse(bytes(wire))


def test_tcp_framing_takes_whole_messages_and_keeps_the_rest():
    a = Message(id=1, question=[Question("a.test")]).to_wire()
    b = Message(id=2, question=[Question("b.test")]).to_wire()
    stream = tcp_frame(a) + tcp_frame(b)
    buf = bytearray(stream[:len(a) + 5])          # the first message and 3 bytes of the second
    assert tcp_unframe(buf) == [a] and bytes(buf) == stream[len(a) + 2:len(a) + 5]
    buf += stream[len(a) + 5:]
    assert tcp_unframe(buf) == [b] and buf == bytearray()
    assert tcp_frame(a)[:2] == len(a).to_bytes(2, "big")
