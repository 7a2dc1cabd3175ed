"""The port scanner's sans-I/O parts: nmap's port specs, targets, the probe table driven with made-up
times, nmap's verdicts, the SYN and UDP probes built with netstudy.wire, the report's text, exports."""
from __future__ import annotations

import json

import pytest

from netstudy.errors import InputError
from netstudy.portscan import (
    Answer,
    ScanResult,
    ScanTable,
    State,
    connect_verdict,
    expand_targets,
    icmp_verdict,
    parse_ports,
    tcp_verdict,
    udp_probe,
)
from netstudy.portscan.output import not_shown_line, port_table, report_lines, seconds
from netstudy.portscan.packets import read_icmp_answer, read_tcp_answer, read_tcp_answers, read_udp_answer
from netstudy.portscan.services import read_fallback, read_nmap_services, services
from netstudy.wire import TCP, UDP, ICMPUnreachable, IPv4, decode_ip
from netstudy.wire.echo import read_ipv4_datagram
from netstudy.wire.syn import SynTemplate

MS = 1_000_000


# -- port specs and targets ---------------------------------------------------------------------------
@pytest.mark.parametrize("spec, tcp, udp", [
    ("22,80,443", (22, 80, 443), (22, 80, 443)),
    ("1-5", (1, 2, 3, 4, 5), (1, 2, 3, 4, 5)),
    ("-3", (1, 2, 3), (1, 2, 3)),
    ("65534-", (65534, 65535), (65534, 65535)),
    ("U:53,T:80", (80,), (53,)),
    ("U:53,123,T:22-23", (22, 23), (53, 123)),
    ("80,22,80", (80, 22), (80, 22)),
    ("t:80", (80,), ()),
])
def test_port_specs_as_nmap_writes_them(spec, tcp, udp):
    ports = parse_ports(spec)
    assert ports.tcp == tcp and ports.udp == udp


def test_dash_alone_is_every_port():
    ports = parse_ports("-")
    assert ports.tcp == tuple(range(1, 65536)) and len(ports) == 2 * 65535


@pytest.mark.parametrize("spec, words", [
    ("", "empty"), ("0", "out of range"), ("65536", "out of range"), ("http", "not a port number"),
    ("10-5", "backwards"), ("X:80", "not a protocol"), ("22,,80", "empty item"), ("U:", "no port"),
])
def test_bad_port_specs_say_what_is_wrong(spec, words):
    with pytest.raises(InputError, match=words):
        parse_ports(spec)


def test_targets_expand_cidrs_and_keep_names():
    assert expand_targets("10.0.0.0/30") == ["10.0.0.1", "10.0.0.2"]
    assert expand_targets(["127.0.0.1,localhost", "127.0.0.1"]) == ["127.0.0.1", "localhost"]
    with pytest.raises(InputError, match="at most a /16"):
        expand_targets("10.0.0.0/15")
    with pytest.raises(InputError, match="IPv6"):
        expand_targets("::1")


# -- verdicts -------------------------------------------------------------------------------------------
def test_verdicts_are_nmaps():
    assert tcp_verdict(syn=True, ack=True, rst=False) == ("open", "syn-ack")
    assert tcp_verdict(syn=False, ack=True, rst=True) == ("closed", "reset")
    assert tcp_verdict(syn=False, ack=True, rst=False) is None
    assert icmp_verdict("udp", 3, 3) == ("closed", "port-unreach")
    assert icmp_verdict("tcp", 3, 3) == ("filtered", "port-unreach")
    for code, reason in ((0, "net-unreach"), (1, "host-unreach"), (2, "proto-unreach"), (9, "net-prohibited"),
                         (10, "host-prohibited"), (13, "admin-prohibited")):
        assert icmp_verdict("udp", 3, code) == ("filtered", reason)
    assert icmp_verdict("udp", 3, 4) is None and icmp_verdict("udp", 11, 0) is None
    assert connect_verdict(0) == ("open", "syn-ack")
    assert connect_verdict(111) == ("closed", "conn-refused")
    assert connect_verdict(113) == ("filtered", "host-unreach")
    assert connect_verdict(115) is None
    assert connect_verdict(99)[0] == "requeue"                      # EADDRNOTAVAIL: our shortage, not theirs


# -- the table with made-up times ----------------------------------------------------------------------
def _drain(table: ScanTable, now: int) -> list:
    probes = []
    while (probe := table.send(now)) is not None:
        probes.append(probe)
    return probes


def test_tcp_table_answers_retries_and_silence():
    table = ScanTable(["10.0.0.10"], [22, 23, 25], "syn", timeout_ns=100 * MS, retries=1, backoff=2)
    assert [p.port for p in _drain(table, 0)] == [22, 23, 25]
    table.receive(Answer("10.0.0.10", 22, "tcp", "open", "syn-ack", 1 * MS, 64))
    table.receive(Answer("10.0.0.10", 23, "tcp", "closed", "reset", 2 * MS, 64))
    assert table.expire(99 * MS) == []
    assert [r.port for r in table.expire(100 * MS)] == [25] and table.lookup("10.0.0.10", 25).state is State.QUEUED
    retry = _drain(table, 100 * MS)
    assert [(p.port, p.attempt) for p in retry] == [(25, 1)]
    assert table.expire(299 * MS) == []                              # the retry waits twice as long
    table.expire(300 * MS)
    assert table.done
    states = {r.port: (r.state, r.reason, r.attempts) for r in table.records}
    assert states == {22: (State.OPEN, "syn-ack", 1), 23: (State.CLOSED, "reset", 1),
                      25: (State.FILTERED, "no-response", 2)}
    assert table.lookup("10.0.0.10", 22).rtt_ns == 1 * MS
    assert table.receive(Answer("10.0.0.10", 25, "tcp", "open", "syn-ack", 400 * MS)) is None and table.late == 1
    assert table.receive(Answer("10.0.0.99", 25, "tcp", "open", "syn-ack", 400 * MS)) is None and table.strays == 1


def test_a_burst_is_the_next_probes_retries_first_as_one_at_a_time_would_give_them():
    one, burst = (ScanTable(["10.0.0.1", "10.0.0.2"], [22, 80, 443], "syn", timeout_ns=100 * MS) for _ in range(2))
    singles = _drain(one, 0)
    assert burst.send_many(0, 4) + burst.send_many(0, 10) == singles and burst.send_many(0, 10) == []
    assert burst.in_flight == one.in_flight == 6 and [r.sent_ns for r in burst.records] == [[0]] * 6
    burst.expire(100 * MS)                                          # all silent: every one retried, in order
    burst.add_ports([8080])                                         # a later share: after the retries
    assert [(p.host, p.port, p.attempt) for p in burst.send_many(100 * MS, 3)] == [
        ("10.0.0.1", 22, 1), ("10.0.0.2", 22, 1), ("10.0.0.1", 80, 1)]
    assert [(p.port, p.attempt, p.index) for p in burst.send_many(100 * MS, 10)][-2:] == [(8080, 0, 6), (8080, 0, 7)]
    with pytest.raises(InputError):
        burst.add_ports([443])


def test_answers_filed_alike_settle_the_records_as_one_at_a_time_would():
    from netstudy.portscan import AnswersAlike
    one, alike = (ScanTable(["127.0.0.1"], [21, 22, 23, 24], "connect", timeout_ns=100 * MS) for _ in range(2))
    for table in (one, alike):
        _drain(table, 0)
        table.receive(Answer("127.0.0.1", 22, "tcp", "open", "syn-ack", 1 * MS))
        table.expire(100 * MS)                      # 21, 23, 24 silent: queued for a retry...
        assert [p.port for p in table.send_many(100 * MS, 2)] == [21, 23]      # ...24 not sent again yet
    indices, times = [0, 1, 2, 0, 3], [102 * MS, 103 * MS, 104 * MS, 105 * MS, 106 * MS]
    for index, at in zip(indices, times, strict=True):     # 22 open already, 21 twice, 24 while queued
        one.receive(Answer("127.0.0.1", one.records[index].port, "tcp", "closed", "conn-refused", at))
    filed = alike.receive_alike(AnswersAlike("closed", "conn-refused", indices, times))
    assert [r.port for r in filed] == [21, 23, 24]
    assert [(r.state, r.reason, r.received_ns, r.rtt_ns, r.attempts) for r in alike.records] == \
        [(r.state, r.reason, r.received_ns, r.rtt_ns, r.attempts) for r in one.records]
    assert (alike.settled, alike.in_flight, alike.late, alike.strays) == (one.settled, one.in_flight, one.late,
                                                                          one.strays) == (4, 0, 0, 0)
    assert alike.done and alike.records[0].rtt_ns == 2 * MS
    with pytest.raises(ValueError):                 # a requeue has its own bookkeeping: receive() only
        alike.receive_alike(AnswersAlike("requeue", "self-connect", [0], [107 * MS]))


def test_udp_silence_is_open_filtered():
    table = ScanTable(["10.0.0.10"], [53, 69, 161], "udp", timeout_ns=MS, retries=0)
    _drain(table, 0)
    table.receive(Answer("10.0.0.10", 53, "udp", "open", "udp-response", MS // 2))
    table.receive(Answer("10.0.0.10", 161, "udp", "closed", "port-unreach", MS // 2))
    table.expire(MS)
    assert {r.port: r.state.value for r in table.records} == {53: "open", 69: "open|filtered", 161: "closed"}


def test_a_self_connect_is_sent_again_and_never_counted():
    table = ScanTable(["127.0.0.1"], [40000], "connect", timeout_ns=100 * MS)
    (probe,) = _drain(table, 0)
    table.receive(Answer("127.0.0.1", 40000, "tcp", "requeue", "self-connect", MS))
    record = table.records[0]
    assert record.state is State.QUEUED and record.attempts == 0 and table.self_connects == 1
    assert table.expire(150 * MS) == []                             # the first probe's deadline no longer counts
    (again,) = _drain(table, 150 * MS)
    assert again.attempt == 0
    table.receive(Answer("127.0.0.1", 40000, "tcp", "closed", "conn-refused", 151 * MS))
    assert record.state is State.CLOSED and table.done


def test_the_state_tables_differ_only_in_what_silence_means():
    from netstudy.portscan import TCP_TABLE, UDP_TABLE
    assert TCP_TABLE.next(State.WAITING, "silent") is State.FILTERED
    assert UDP_TABLE.next(State.WAITING, "silent") is State.OPEN_FILTERED
    assert {r for r in TCP_TABLE.rows() if r[1] != "silent"} == {r for r in UDP_TABLE.rows() if r[1] != "silent"}


# -- packets ----------------------------------------------------------------------------------------------
def test_syn_template_checksum_equals_a_fresh_build():
    template = SynTemplate("10.0.0.2", "10.0.0.10", 45000, 123456789)
    for port in (1, 22, 80, 443, 65535, 0x8000):
        packet = bytes(template.probe(port))
        fresh = (IPv4(src="10.0.0.2", dst="10.0.0.10", ttl=64, identification=45000)
                 / TCP(sport=45000, dport=port, seq=123456789, flags="S", window=1024,
                       options=[template.segment(port).transport.options[0]])).build()
        assert packet == fresh
        decoded = decode_ip(packet)
        assert decoded.transport.checksum_status(decoded.network) == "good"


def _synack(flags: str, ack: int) -> bytes:
    return (IPv4(src="10.0.0.10", dst="10.0.0.2", ttl=63) / TCP(sport=22, dport=45000, seq=7, ack=ack,
                                                                flags=flags)).build()


def test_answers_are_matched_by_port_and_acknowledged_isn():
    answer = read_tcp_answer(_synack("S.", 1001), 40, 45000, 1001, 5)
    assert (answer.host, answer.port, answer.verdict, answer.reason, answer.ttl) == ("10.0.0.10", 22, "open",
                                                                                        "syn-ack", 63)
    assert read_tcp_answer(_synack("R.", 1001), 40, 45000, 1001, 5).verdict == "closed"
    assert read_tcp_answer(_synack("S.", 999), 40, 45000, 1001, 5) is None          # not our ISN
    assert read_tcp_answer(_synack("S.", 1001), 40, 45001, 1001, 5) is None         # not our port
    udp = (IPv4(src="10.0.0.10", dst="10.0.0.2") / UDP(sport=53, dport=45000) / b"x").build()
    assert read_udp_answer(udp, len(udp), 45000, 0).port == 53


def test_a_blocks_answers_are_read_in_one_pass_in_place():
    """A packet ring's block: datagrams at offsets in one buffer, each judged as read_tcp_answer judges it
    (the one with IP options through the full decoder), the kernel's wall-clock stamps made scan time."""
    with_options = (IPv4(src="10.0.0.11", dst="10.0.0.2", ttl=62, options=b"\x01\x01\x01\x00")
                    / TCP(sport=25, dport=45000, seq=7, ack=1001, flags="R.")).build()
    datagrams = [_synack("S.", 1001), _synack("R.", 1001), _synack("S.", 999), _synack("R", 1001),
                 (IPv4(src="10.0.0.10", dst="10.0.0.2") / TCP(sport=23, dport=45001, ack=1001, flags="R.")).build(),
                 with_options, _synack("S.", 1001)[:39]]
    block, packets = bytearray(b"\xee" * 7), []
    for stamp, datagram in enumerate(datagrams):
        packets.append((1000 + stamp, len(block), len(datagram)))
        block += datagram + b"\xee" * 5
    answers = read_tcp_answers(block, packets, 45000, 1001, 900)
    assert [(a.host, a.port, a.verdict, a.reason, a.received_ns, a.ttl) for a in answers] == [
        ("10.0.0.10", 22, "open", "syn-ack", 100, 63), ("10.0.0.10", 22, "closed", "reset", 101, 63),
        ("10.0.0.11", 25, "closed", "reset", 105, 62)]
    one_by_one = [read_tcp_answer(bytes(block[at:at + length]), length, 45000, 1001, stamp - 900)
                  for stamp, at, length in packets]
    assert answers == [answer for answer in one_by_one if answer is not None]


def test_an_icmp_error_quoting_our_probe_is_its_verdict():
    probe = udp_probe("10.0.0.2", "10.0.0.10", 45000, 137)
    for code, verdict in ((3, ("closed", "port-unreach")), (13, ("filtered", "admin-prohibited"))):
        error = (IPv4(src="10.0.0.10", dst="10.0.0.2") / ICMPUnreachable(code=code) / probe[:28]).build()
        event = read_ipv4_datagram(error, 0)
        answer = read_icmp_answer(event, "udp", 45000)
        assert (answer.host, answer.port, answer.verdict, answer.reason) == ("10.0.0.10", 137, *verdict)
        assert read_icmp_answer(event, "udp", 45001) is None


def test_udp_probes_carry_dns_and_ntp_payloads():
    dns = decode_ip(udp_probe("10.0.0.2", "10.0.0.10", 45000, 53))
    assert dns.transport.dport == 53 and len(dns.transport.payload) == 12
    ntp = decode_ip(udp_probe("10.0.0.2", "10.0.0.10", 45000, 123)).transport.payload
    assert len(ntp) == 48 and ntp[0] >> 3 & 7 == 4 and ntp[0] & 7 == 3          # version 4, client
    assert decode_ip(udp_probe("10.0.0.2", "10.0.0.10", 45000, 9)).transport.payload == b""


# -- services -------------------------------------------------------------------------------------------
def test_services_rank_by_frequency_and_fall_back():
    table = read_nmap_services("a\t1/tcp\t0.1\nb\t2/tcp\t0.5\t# x\nc\t3/udp\t0.2\n", "test")
    assert table.top(2) == (2, 1) and table.name(1) == "a" and table.top(1, "udp") == (3,)
    with pytest.raises(InputError, match="ranks only"):
        table.top(3)
    from importlib.resources import files
    fallback = read_fallback((files("netstudy") / "data" / "portscan" / "top-ports.txt").read_text(), "fallback")
    assert fallback.top(3) == (80, 443, 22) and fallback.name(53, "udp") == "domain"
    header = (files("netstudy") / "data" / "portscan" / "top-ports.txt").read_text().split("\n# Fields")[0]
    assert "Nothing here is copied" in header and "Nmap Public Source" in header
    assert services().name(22) == "ssh"


# -- output and exports --------------------------------------------------------------------------------
def _result() -> ScanResult:
    table = ScanTable(["127.0.0.1"], list(range(1, 41)), "connect", timeout_ns=MS)
    _drain(table, 0)
    for port in range(1, 41):
        verdict = ("open", "syn-ack") if port in (22, 25) else ("closed", "conn-refused")
        table.receive(Answer("127.0.0.1", port, "tcp", *verdict, 41_000))
    for record in table.records:
        record.service = {22: "ssh", 25: "smtp"}.get(record.port, "unknown")
    table.records[21].banner = "SSH-2.0-test"
    return table.result("127.0.0.1", "connect", 12_340_000)


def test_report_is_nmaps_shape():
    lines = report_lines(_result())
    assert lines[1:7] == ["Scan report for 127.0.0.1", "Host is up (0.000041s latency).",
                          "Not shown: 38 closed tcp ports (conn-refused)", "PORT   STATE SERVICE REASON",
                          "22/tcp open  ssh     syn-ack", "|_banner: SSH-2.0-test"]
    assert lines[-1] == "Done: 1 IP address scanned in 0.01 seconds"
    assert not_shown_line({("closed", "tcp", "reset"): 1}) == "Not shown: 1 closed tcp port (reset)"
    assert seconds(420_000) == "0.00042" and seconds(1_300_000_000) == "1.3"
    assert port_table(_result().records[:1])[0].startswith("PORT  STATE  SERVICE")


def test_exports_round_trip():
    result = _result()
    text = result.to_json()
    again = ScanResult.from_json(text)
    assert again.states() == result.states() and again.get(22).banner == "SSH-2.0-test"
    assert json.loads(text)["ports"][0]["reason"] == "conn-refused"
    csv = result.to_csv().splitlines()
    assert csv[0].startswith("host,port,protocol,state,reason") and len(csv) == 41
    frame = result.to_frame()
    assert list(frame.columns[:5]) == ["host", "port", "protocol", "state", "reason"] and len(frame) == 40
