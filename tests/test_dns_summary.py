"""DNS.summary_at skims the common messages from the bytes: it must write exactly the line the full
parse writes (``Message.summary`` of ``Message.parse(..., allow_trailing=True)``, or ``[|domain]``)."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_dns_codec import HOSTILE

from netstudy import pcap
from netstudy.errors import DecodeError
from netstudy.wire import decode
from netstudy.wire.dns import (
    AAAA,
    CNAME,
    DNS,
    MX,
    NS,
    PTR,
    SOA,
    TXT,
    A,
    Message,
    Question,
    Record,
    make_opt,
)
from netstudy.wire.dns.summary import _skim_line, _tcpdump_walk

CAPTURES = Path(__file__).parent / "data" / "captures"


def general(data: bytes, off: int, end: int) -> str:
    """The line from the whole parsed message (the path the skim must agree with)."""
    try:
        msg = Message.parse(data[off:end], allow_trailing=True)
    except DecodeError:        # cut or hostile: tcpdump's walk, the header's counts and what fits
        text, whole = _tcpdump_walk(data, off, end)
        return f"{text} ({end - off})" if whole else f"{text} [|domain]"
    return f"{msg.summary()} ({end - off})"


def capture_messages() -> list[bytes]:
    found = []
    for path in sorted(CAPTURES.iterdir()):
        if path.suffix not in (".pcap", ".pcapng"):
            continue
        for rec in pcap.read(path):
            packet = decode(rec.data, rec.linktype)
            kind, off, end = packet.spans[-1][:3] if packet.spans else (None, 0, 0)
            if kind is DNS:
                found.append(packet.data[off:end])
    return found


def query(name: str = "www.example.test", qtype: str | int = "A", **fields) -> Message:
    return Message(id=4321, rd=True, question=[Question(name, qtype)], **fields)


def response(*answers: Record, **fields) -> Message:
    r = query().reply(aa=True)
    r.answer = list(answers)
    for name, value in fields.items():
        setattr(r, name, value)
    return r


OWNER = "www.example.test"
ONE_A = Record(OWNER, A("192.0.2.1"), 300)
CHAIN = [Record(OWNER, CNAME("edge.cdn.net"), 60), Record("edge.cdn.net", A("192.0.2.7"), 60),
         Record("edge.cdn.net", AAAA("2001:db8::7"), 60)]

# name: (message, whether the skim reads it, the line without its length); compressed, the MX, NS and
# PTR targets end with a pointer to part of the question name, which the skim leaves to the parse
BUILT = {
    "query": (query(), True, "4321+ A? www.example.test."),
    "query with OPT and a cookie": (query("a.test", "AAAA", additional=[make_opt(1232, options=[(10, bytes(8))])]),
                                    True, "4321+ [1au] AAAA? a.test."),
    "query for the root": (Message(id=9, question=[Question(".", "NS")]), True, "9 NS? ."),
    "query with labels to escape": (query(r'a"b c.t\.st', "TXT"), True, '4321+ TXT? a\\"b\\032c.t\\.st.'),
    "query of an unnamed type": (query("x.test", 65280), True, "4321+ Type65280? x.test."),
    "notify with the CD bit": (Message(id=3, opcode=4, cd=True, question=[Question("zone.test", "SOA")]),
                               True, "3 notify% SOA? zone.test."),
    "status request": (Message(id=7, opcode=2, question=[Question("a.test")]), True, "7 stat A? a.test."),
    "CHAOS class query": (Message(id=8, rd=True, question=[Question("version.bind", "TXT", "CH")]), True,
                          "8+ TXT CHAOS? version.bind."),
    "one A": (response(ONE_A), True, "4321*- 1/0/0 A 192.0.2.1"),
    "three A": (response(*(Record(OWNER, A(f"198.51.100.{i}"), 300) for i in (0, 22, 255))), True,
                "4321*- 3/0/0 A 198.51.100.0, A 198.51.100.22, A 198.51.100.255"),
    "AAAA": (response(Record(OWNER, AAAA("2001:db8::1"), 300)), True, "4321*- 1/0/0 AAAA 2001:db8::1"),
    "CNAME chain": (response(*CHAIN), True, "4321*- 3/0/0 CNAME edge.cdn.net., A 192.0.2.7, AAAA 2001:db8::7"),
    "MX, NS and PTR": (response(Record(OWNER, MX(10, "mail.example.test"), 60),
                                Record(OWNER, NS("ns1.example.test"), 60),
                                Record(OWNER, PTR("host.example.test"), 60)), "uncompressed",
                       "4321*- 3/0/0 MX mail.example.test. 10, NS ns1.example.test., PTR host.example.test."),
    "A with OPT": (response(ONE_A, additional=[make_opt(1232, do=True)]), True, "4321*- 1/0/1 A 192.0.2.1"),
    "NXDOMAIN": (response(rcode=3, ra=True), True, "4321 NXDomain* 0/0/0"),
    "truncated, authenticated": (response(tc=True, ad=True), True, "4321*-|$ 0/0/0"),
    "refused update": (response(opcode=5, rcode=5), True, "4321 update Refused*- 0/0/0"),
    # the rest are left to the full parse
    "TXT": (response(Record(OWNER, TXT(("v=spf1 -all",)), 60)), False, '4321*- 1/0/0 TXT "v=spf1 -all"'),
    "NXDOMAIN with its SOA": (response(rcode=3, authority=[Record("example.test", SOA(
        "ns1.example.test", "admin.example.test", 1, 2, 3, 4, 5), 60)]), False, "4321 NXDomain*- 0/1/0"),
    "two questions": (Message(id=5, question=[Question("a.test"), Question("b.test")]), False,
                      "5 [2q] A? a.test. A? b.test."),
    "no question": (Message(id=6, qr=True, rcode=5), False, "6 Refused- [0q] 0/0/0"),
    "A with glue": (response(ONE_A, additional=[Record("ns.test", A("192.0.2.9"))]), False, "4321*- 1/0/1 A 192.0.2.1"),
}


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("case", list(BUILT))
def test_built_messages_read_the_same_skimmed_or_parsed(case, compress):
    msg, skimmed, line = BUILT[case]
    wire = msg.to_wire(compress)
    framed = b"\xee" * 7 + wire + b"\x00" * 5        # an offset into a frame, and padding after the message
    off, end = 7, 7 + len(wire)
    assert DNS.summary_at(framed, off, end) == general(framed, off, end) == f"{line} ({len(wire)})"
    assert (_skim_line(framed, off, end) is not None) == (skimmed is True or skimmed == "uncompressed" and not compress)
    assert DNS.parse(wire).summary() == f"{line} ({len(wire)})"


def test_built_header_still_reads_its_own_flags():
    assert DNS(id=5, rd=True).summary() == "5+ [|domain]"


def test_every_dns_message_in_the_fixture_captures():
    messages = capture_messages()
    assert len(messages) >= 20
    skimmed = 0
    for wire in messages:
        assert DNS.summary_at(wire, 0, len(wire)) == general(wire, 0, len(wire))
        skimmed += _skim_line(wire, 0, len(wire)) is not None
    assert skimmed >= len(messages) // 2


@pytest.mark.parametrize("case", [c for c in HOSTILE if len(HOSTILE[c][0]) >= 12])
def test_hostile_messages_read_as_tcpdump_walks_them(case):
    """A message the parse refuses reads as tcpdump's walk: the header's counts as they are, what fits,
    then ``[|domain]`` where the walk stops (or the length, where tcpdump's walk, which follows no
    pointer and checks no record's data it does not print, gets to the end)."""
    wire = HOSTILE[case][0]
    line = DNS.summary_at(wire, 0, len(wire))
    assert line == general(wire, 0, len(wire))
    assert line.endswith((" [|domain]", f" ({len(wire)})"))
    an, ns, ar = (int.from_bytes(wire[i:i + 2], "big") for i in (6, 8, 10))
    if wire[2] & 0x80:                       # a response: its counts always written
        assert f" {an}/{ns}/{ar}" in line
    elif an:
        assert f" [{an}a]" in line


def test_names_the_parse_refuses_are_not_skimmed():
    head = bytes.fromhex("abcd8180" "0001" "0001" "0000" "0000")
    question = b"\x01a\x00\x00\x01\x00\x01"
    rr = b"\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x01"
    long_name = b"".join(b"\x3f" + b"x" * 63 for _ in range(4)) + b"\x00"           # 257 bytes
    cases = {
        "pointer to the header": head + b"\xc0\x02" + b"\x00\x01\x00\x01" + b"\xc0\x0c" + rr,
        "owner pointing forward": head + question + b"\xc0\x20" + rr + bytes(16),
        "label type 01": head + question + b"\x41" + b"a" * 65 + b"\x00" + rr,     # 65 bytes follow, as if a label
        "label type 10": head + b"\x81" + b"a" * 129 + b"\x00\x00\x01\x00\x01" + b"\xc0\x0c" + rr,
        "name over 255 bytes": head + question + long_name + rr,
        "A of 5 bytes": head + question + b"\xc0\x0c" + rr[:9] + b"\x05" + rr[10:] + b"\x00",
        "rdlength past the end": head + question + b"\xc0\x0c" + rr[:-1],
        "CNAME leaving a byte": head + question + b"\xc0\x0c\x00\x05" + rr[4:9] + b"\x03\x01b\x00\x00",
        "OPT not at the root": bytes.fromhex("abcd01000001000000000001") + question + b"\x01a\x00\x00\x29" + bytes(8),
    }
    for name, wire in cases.items():
        assert _skim_line(wire, 0, len(wire)) is None, name
        assert DNS.summary_at(wire, 0, len(wire)) == general(wire, 0, len(wire)) == general(wire, 0, len(wire))
        with pytest.raises(DecodeError):       # refused by the parse: the line is tcpdump's walk's
            Message.parse(wire, allow_trailing=True)


SEEDS = [m.to_wire(c) for m, _, _ in BUILT.values() for c in (True, False)]


def mutate(wire: bytearray, ops: list[tuple[str, int, int, bytes]]) -> bytes:
    for op, pos, value, extra in ops:
        if not wire:
            break
        pos %= len(wire)
        if op == "flip":
            wire[pos] = value
        elif op == "cut":
            del wire[pos:pos + 1 + value % 8]
        else:
            wire[pos:pos] = extra
    return bytes(wire)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_mutated_messages_read_the_same_skimmed_or_parsed(data):
    seeds = SEEDS + capture_seeds()
    wire = bytearray(data.draw(st.sampled_from(seeds)))
    ops = data.draw(st.lists(st.tuples(st.sampled_from(["flip", "cut", "insert"]), st.integers(0, 400),
                                       st.integers(0, 255), st.binary(min_size=1, max_size=4)), min_size=1, max_size=4))
    wire = mutate(wire, ops)
    pad = data.draw(st.binary(max_size=3))
    framed = pad + wire + data.draw(st.binary(max_size=3))
    if len(wire) >= 12:                           # decode() only hands DNS a whole header
        assert DNS.summary_at(framed, len(pad), len(pad) + len(wire)) == general(framed, len(pad), len(pad) + len(wire))


def test_seeded_mutations_agree_and_many_are_skimmed():
    """5,000 seeded one-byte changes: both paths agree on each, and the skim still reads a good share."""
    rng = random.Random(11)
    seeds = SEEDS + capture_seeds()
    skimmed = 0
    for _ in range(5000):
        wire = bytearray(rng.choice(seeds))
        wire[rng.randrange(len(wire))] = rng.choice([0, 1, 4, 12, 0x3F, 0x40, 0xC0, rng.randrange(256)])
        wire = bytes(wire)
        assert DNS.summary_at(wire, 0, len(wire)) == general(wire, 0, len(wire))
        skimmed += _skim_line(wire, 0, len(wire)) is not None
    assert 1000 < skimmed < 5000


_CAPTURE_SEEDS: list[bytes] = []


def capture_seeds() -> list[bytes]:
    if not _CAPTURE_SEEDS:
        _CAPTURE_SEEDS.extend(capture_messages())
    return _CAPTURE_SEEDS


@pytest.mark.interop
def test_lines_agree_with_tcpdump(tmp_path):
    """The summary of each built message, carried in UDP from port 53, reads as tcpdump prints it
    (``tcpdump -n -t``): flags, counts, the question, each answer (an MX exchange before its preference)."""
    from conftest import tcpdump_lines

    from netstudy.wire import UDP, Ethernet, IPv4

    # left out: TXT (tcpdump leaves its data out of the line), and names with bytes dig escapes (tcpdump
    # prints them raw: a label's own dot reads like a separator there)
    cases = [name for name in BUILT if name not in ("TXT", "query with labels to escape")]
    frames = [bytes(Ethernet() / IPv4(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=53, dport=40000)
                    / BUILT[name][0].to_wire()) for name in cases]
    theirs = tcpdump_lines(frames, tmp_path / "dns.pcap")
    ours = [decode(frame).summary() for frame in frames]
    rows = list(zip(cases, ours, theirs, strict=True))
    assert [(c, o) for c, o, t in rows if o != t] == [(c, t) for c, o, t in rows if o != t]
