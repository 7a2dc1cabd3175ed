"""netstudy.dns.core.zone (and engine.server.load_zone): RFC 1035 master files."""
from __future__ import annotations

from pathlib import Path

import dns.zone
import pytest

import netstudy
from netstudy.dns import ZoneError, load_zone, parse_zone
from netstudy.wire.dns import CAA, MX, SOA, SRV, TXT, A, Name, Unknown

ZONES = Path(netstudy.__file__).parent / "data" / "zones"
EXAMPLE = ZONES / "netstudy.test.zone"


def test_master_file_features():
    z = parse_zone("""
$ORIGIN example.test.
$TTL 1h
@   IN SOA ns1 admin.example.test. ( 1 ; serial
        2h 15m 2w
        300 )
    NS ns1                 ; blank owner: the previous one (@)
ns1 60 IN A 192.0.2.1
www IN 120 A 192.0.2.2     ; class before TTL works too
    TXT "one; two" "quote \\" and \\092" plain
mail.example.test. MX 10 ns1
$ORIGIN sub.example.test.
deep AAAA ::1
odd\\.label A 192.0.2.3
_x._tcp SRV 1 2 3 @
@ CAA 128 iodef "mailto:a@example.test"
pvt TYPE65280 \\# 2 ab cd
""")
    assert z.origin == "example.test."
    soa = z.soa.rdata
    assert isinstance(soa, SOA) and (soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum) == \
        (1, 7200, 900, 1209600, 300)
    assert z.soa.ttl == 3600 and str(soa.rname) == "admin.example.test."
    assert z.get("example.test", 2)[0].rdata.target == "ns1.example.test."
    assert z.get("ns1.example.test", 1)[0].ttl == 60
    www = z.get("www.example.test", 1)[0]
    assert www.ttl == 120 and www.rdata == A("192.0.2.2")
    assert z.get("www.example.test", 16)[0].rdata == TXT((b"one; two", b'quote " and \\', b"plain"))
    assert z.get("mail.example.test", 15)[0].rdata == MX(10, "ns1.example.test")
    assert z.get("deep.sub.example.test", 28)[0].rdata.address == "::1"
    assert z.get(Name([b"odd.label", b"sub", b"example", b"test"]), 1)
    assert z.get("_x._tcp.sub.example.test", 33)[0].rdata == SRV(1, 2, 3, "sub.example.test")
    assert z.get("sub.example.test", 257)[0].rdata == CAA(128, "iodef", b"mailto:a@example.test")
    assert z.get("pvt.sub.example.test", 65280)[0].rdata == Unknown(65280, b"\xab\xcd")


@pytest.mark.parametrize("text, message", [
    ("$ORIGIN a.test.\n@ SOA ns h 1 2 3 4 5\nwww A 300.1.1.1\n", ":3: A record: '300.1.1.1' is not an IPv4"),
    ("$ORIGIN a.test.\n@ SOA ns h 1 2 3 4 5\nwww BOGUS x\n", ":3: 'BOGUS' is not a DNS type"),
    ("$ORIGIN a.test.\n@ SOA ns h 1 2 3 4 5\nwww MX mail\n", ":3: MX needs 2 fields"),
    ("$ORIGIN a.test.\n@ SOA ns h ( 1 2 3 4 5\n", ":2: '(' never closed"),
    ("$ORIGIN a.test.\nwww 60 A 192.0.2.1\n", "no SOA record"),
    ("$ORIGIN a.test.\n$INCLUDE other\n", ":2: $INCLUDE is not supported"),
    ("$ORIGIN a.test.\n@ SOA ns h 1 2 3 4 5\nwww.other.test. A 192.0.2.1\n", ":3: www.other.test. is outside"),
    ("$ORIGIN a.test.\n@ SOA ns h 1 2 3 4 5\nx TXT \"open\n", ":3: string not closed"),
])
def test_errors_name_the_line(text, message):
    with pytest.raises(ZoneError, match=message.replace("$", r"\$").replace("(", r"\(")):
        parse_zone(text, source="t.zone")


def test_example_zone_agrees_with_dnspython():
    ours = load_zone(EXAMPLE)
    theirs = dns.zone.from_file(str(EXAMPLE), origin="netstudy.test.", relativize=False)
    judge = set()
    for name, ttl, rdata in theirs.iterate_rdatas():
        judge.add((str(name).lower(), ttl, rdata.rdtype, " ".join(rdata.to_text().split()).lower()))
    mine = {(str(r.name).lower(), r.ttl, r.type, " ".join(r.rdata.to_text().split()).lower())
            for r in ours.records()}
    assert mine == judge
    assert len(ours) == 70


def test_example_zone_has_every_type_a_chain_and_a_delegation():
    z = load_zone(EXAMPLE)
    types = {r.type for r in z.records()}
    assert {1, 2, 5, 6, 12, 15, 16, 28, 33, 257, 65280} <= types
    assert z.get("alias.netstudy.test", 5)[0].rdata.target == "alias2.netstudy.test."
    assert z.cut(Name("www.sub.netstudy.test")) == "sub.netstudy.test."
    assert z.cut(Name("www.netstudy.test")) is None
    assert z.has_descendants(Name("b.netstudy.test"))
    assert len(z.get("many.netstudy.test", 1)) == 40
    reverse = load_zone(ZONES / "127.in-addr.arpa.zone")
    assert reverse.get("80.0.0.127.in-addr.arpa", 12)[0].rdata.target == "www.netstudy.test."


@pytest.mark.parametrize("records,line,other", [
    ("www A 192.0.2.1\nwww CNAME elsewhere\n", 5, "A at line 4"),          # CNAME after data
    ("www CNAME elsewhere\nwww MX 10 mail\n", 5, "CNAME at line 4"),       # data after a CNAME
    ("www CNAME elsewhere\n@ A 192.0.2.9\nwww TXT \"x\"\n", 6, "CNAME at line 4")])
def test_a_cname_beside_other_data_is_refused_with_file_and_line(records, line, other):
    """RFC 1034 §3.6.2: "If a CNAME RR is present at a node, no other data should be present"."""
    text = "$ORIGIN a.test.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n" + records
    with pytest.raises(ZoneError, match=rf"^x\.zone:{line}: a CNAME cannot share its name with other data "
                                        rf"\(RFC 1034 §3\.6\.2\): {other}$"):
        parse_zone(text, source="x.zone")


def test_a_cname_alone_and_other_names_beside_it_are_fine():
    zone = parse_zone("$ORIGIN a.test.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\nwww CNAME host\nhost A 192.0.2.1\n")
    assert len(zone) == 3
