"""Ping's and traceroute's sans-I/O parts: the echo template, reading replies and errors, the
bookkeeping of probes, the statistics and iputils' output format. No sockets here."""
from __future__ import annotations

import math
import socket
import statistics
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netstudy.icmp import (
    Hop,
    Probe,
    ProbeLog,
    TraceProbe,
    format_time,
    header_line,
    hop_line,
    probe_line,
    statistics_lines,
    summarize,
)
from netstudy.wire import UDP, ICMPEcho, ICMPTimeExceeded, ICMPUnreachable, IPv4, internet_checksum
from netstudy.wire.checksum import ones_complement_sum, verify
from netstudy.wire.echo import (
    SOCK_EXTENDED_ERR,
    EchoReply,
    EchoTemplate,
    ProbeError,
    echo_payload,
    error_text,
    payload_timestamp_ns,
    read_ancillary,
    read_error_queue,
    read_message,
    update_checksum,
)
from netstudy.wire.icmpv6 import ICMPv6Echo, ICMPv6TimeExceeded
from netstudy.wire.ipv6 import IPv6


# -- the request ------------------------------------------------------------------------------------
@pytest.mark.parametrize("seq", [0, 1, 2, 255, 256, 0x7FFF, 0xFFFE, 0xFFFF])
def test_template_equals_a_request_built_from_scratch(seq):
    wall_ns = 1_700_000_123_456_789_000
    template = EchoTemplate(0x1234, 56)
    template.request(seq ^ 0x5555, wall_ns - 10**9)          # a previous probe: the update is incremental
    packet = bytes(template.request(seq, wall_ns))
    payload = struct.pack("=qq", wall_ns // 10**9, wall_ns // 1000 % 10**6) + echo_payload(56)[16:]
    assert packet == bytes(ICMPEcho(identifier=0x1234, sequence=seq) / payload)
    assert verify(packet)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=8, max_size=64), st.data())
def test_rfc1624_update_equals_recomputing(data, draw):
    """HC' = ~(~HC + ~m + m') gives what summing the whole message again gives (RFC 1624 eqn. 3)."""
    message = bytearray(b"\x08\x00\x00\x00" + data[4:len(data) // 2 * 2])    # checksum field zero
    words = (len(message) - 4) // 2
    first = draw.draw(st.integers(0, words - 1))
    last = draw.draw(st.integers(first + 1, words))
    start, end = 4 + 2 * first, 4 + 2 * last
    replacement = draw.draw(st.binary(min_size=end - start, max_size=end - start))
    changed = bytearray(message)
    changed[start:end] = replacement
    updated = update_checksum(internet_checksum(message), ones_complement_sum(message[start:end]),
                              ones_complement_sum(replacement))
    assert updated == internet_checksum(changed)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 0xFFFF), st.integers(0, 2**62), st.integers(0, 300))
def test_expected_reply_is_the_request_echoed_back(seq, wall_ns, size):
    """RFC 792: the reply returns identifier, sequence and data with type 0. The template's ``reply``,
    updated with the request (RFC 1624), is the reply built from scratch, to the byte."""
    template = EchoTemplate(0xBEEF, size)
    template.request(seq ^ 0x5555, wall_ns // 3)
    request = bytes(template.request(seq, wall_ns))
    reply, scratch = bytes(template.reply), bytes(ICMPEcho(type=0, identifier=0xBEEF, sequence=seq) / request[8:])
    assert verify(reply) and reply[0] == 0 and reply[4:] == request[4:]
    assert reply == scratch and request == bytes(ICMPEcho(identifier=0xBEEF, sequence=seq) / request[8:])


def test_payload_layout_like_iputils():
    template = EchoTemplate(7, 56)
    packet = template.request(1, 1_600_000_000_250_000_000)
    assert packet[24:] == bytes(range(16, 56))           # after the timeval: each byte is its offset
    assert payload_timestamp_ns(bytes(packet)) == 1_600_000_000_250_000_000
    short = EchoTemplate(7, 8)
    assert not short.timestamped and payload_timestamp_ns(bytes(short.request(1, 123))) is None
    assert short.length == 16


def test_ipv6_template_leaves_the_checksum_to_the_kernel():
    packet = EchoTemplate(9, 56, version=6).request(3, 0)
    assert packet[0] == 128 and packet[2:4] == b"\x00\x00" and packet[6:8] == b"\x00\x03"


# -- reading what comes back ---------------------------------------------------------------------------
def _reply(identifier=0x1234, seq=1, ttl=61, src="10.0.3.10"):
    return bytes(IPv4(src=src, dst="10.0.1.2", ttl=ttl) / ICMPEcho(type=0, identifier=identifier,
                                                                      sequence=seq) / echo_payload(56))


def test_read_echo_reply():
    data = _reply()
    event = read_message(data, 20, 4, "10.0.3.10", 61, 5, verify_checksum=True)
    assert event == EchoReply(0x1234, 1, "10.0.3.10", 61, 64, 5, True)
    corrupt = bytearray(data)
    corrupt[-1] ^= 0xFF
    assert read_message(bytes(corrupt), 20, 4, "10.0.3.10", 61, 5, verify_checksum=True).checksum_ok is False


def test_raw_ipv4_datagrams_read_from_the_socket_buffer():
    """``read_ipv4_datagram(buffer, t, n)`` reads a reused buffer (stale bytes after ``n``) and says what
    the full codec says of the same bytes: replies with and without IP options, corrupted, and errors."""
    from netstudy.wire.echo import read_ipv4_datagram
    from netstudy.wire.ipv4 import IPV4_OPTIONS
    reply = _reply(seq=7)
    with_options = bytes(IPv4(src="10.0.3.10", dst="10.0.1.2", ttl=61, options=[IPV4_OPTIONS.make("RA", 0)])
                         / ICMPEcho(type=0, identifier=0x1234, sequence=7) / echo_payload(56))
    corrupted = reply[:-1] + bytes([reply[-1] ^ 1])
    odd = bytes(IPv4(src="10.0.3.10", dst="10.0.1.2", ttl=61) / ICMPEcho(type=0, identifier=0x1234, sequence=7)
                / echo_payload(9))
    exceeded = bytes(IPv4(src="10.0.1.1", dst="10.0.1.2", ttl=64) / ICMPTimeExceeded() /
                     bytes(IPv4(src="10.0.1.2", dst="10.0.3.10", ttl=1) / ICMPEcho(identifier=0x1234, sequence=7)))
    events = []
    for data in (reply, with_options, corrupted, odd, exceeded, reply[:27]):
        buffer = bytearray(b"\xee" * 300)
        buffer[:len(data)] = data
        event = read_ipv4_datagram(buffer, 5, len(data))
        ihl = (data[0] & 15) * 4
        assert event == read_ipv4_datagram(data, 5) == read_message(data, ihl, 4, socket.inet_ntoa(data[12:16]),
                                                                     data[8], 5, verify_checksum=True)
        events.append(event)
    assert events[0] == events[1] == EchoReply(0x1234, 7, "10.0.3.10", 61, 64, 5, True)
    assert events[2].checksum_ok is False and events[3].size == 17 and events[3].checksum_ok
    assert events[4].text == "Time to live exceeded" and events[4].sequence == 7 and events[5] is None


def test_requests_and_other_types_are_not_events():
    request = bytes(ICMPEcho(identifier=1, sequence=1) / (b"x" * 8))
    assert read_message(request, 0, 4, "127.0.0.1", 64, 0) is None
    assert read_message(b"\x0d\x00", 0, 4, "127.0.0.1", 64, 0) is None       # cut short: not an event
    assert read_message(b"", 0, 4, "127.0.0.1", 64, 0) is None


def test_time_exceeded_quoting_our_echo():
    probe = bytes(IPv4(src="10.0.1.2", dst="10.0.3.10", ttl=1) / ICMPEcho(identifier=0x1234, sequence=7)
                  / echo_payload(56))
    error = bytes(ICMPTimeExceeded() / probe[:28])
    event = read_message(error, 0, 4, "10.0.1.1", 64, 9)
    assert isinstance(event, ProbeError)
    assert (event.icmp_type, event.icmp_code, event.source, event.destination) == (11, 0, "10.0.1.1", "10.0.3.10")
    assert (event.identifier, event.sequence, event.text) == (0x1234, 7, "Time to live exceeded")
    assert event.quoted == probe[:28]
    log = ProbeLog(0x1234, "10.0.3.10", 10**9)
    for i in range(7):
        log.sent(i)
    assert log.receive(event).quoted == probe[:28]


def test_port_unreachable_quoting_a_udp_probe():
    probe = bytes(IPv4(src="10.0.1.2", dst="10.0.3.10") / UDP(sport=40000, dport=33436) / bytes(32))
    error = bytes(ICMPUnreachable(code=3) / probe[:28])
    event = read_message(error, 0, 4, "10.0.3.10", 62, 9)
    assert (event.sport, event.dport, event.identifier, event.text) == (40000, 33436, None,
                                                                         "Destination Port Unreachable")


def test_icmpv6_time_exceeded_quoting_our_echo():
    ip = IPv6(src="fd00:6e73:0:1::2", dst="fd00:6e73:0:3::10", hop_limit=1)
    probe = bytes(ip / ICMPv6Echo(identifier=77, sequence=3) / echo_payload(56))
    error = bytes(ICMPv6TimeExceeded() / probe)
    event = read_message(error, 0, 6, "fd00:6e73:0:1::1", 64, 1)
    assert (event.identifier, event.sequence, event.destination) == (77, 3, "fd00:6e73:0:3::10")
    assert event.text == "Time exceeded: Hop limit"


def test_error_queue_entry():
    """What recvmsg(MSG_ERRQUEUE) gives on a ping socket: our request, and a sock_extended_err naming
    the router (the layout of linux/errqueue.h, then a sockaddr_in)."""
    request = bytes(ICMPEcho(identifier=0x8879, sequence=7) / (b"x" * 16))
    offender = struct.pack("=H", socket.AF_INET) + b"\x00\x00" + socket.inet_aton("10.0.1.1") + bytes(8)
    ext = SOCK_EXTENDED_ERR.pack(113, 2, 11, 0, 0, 0, 0) + offender
    ttl_cmsg = (socket.IPPROTO_IP, 2, struct.pack("=i", 64))
    ttl, error = read_ancillary([ttl_cmsg, (socket.IPPROTO_IP, 11, ext)])
    assert ttl == 64 and error == ext
    event = read_error_queue(request, error, ("10.0.3.10", 0), ttl, 4, 3)
    assert (event.source, event.destination, event.identifier, event.sequence, event.icmp_type) == \
        ("10.0.1.1", "10.0.3.10", 0x8879, 7, 11)
    udp = read_error_queue(b"payload", SOCK_EXTENDED_ERR.pack(111, 2, 3, 3, 0, 0, 0) + offender,
                           ("10.0.3.10", 33440), None, 4, 3, probe="udp")
    assert (udp.dport, udp.text) == (33440, "Destination Port Unreachable")


@pytest.mark.parametrize("version,kind,code,mtu,text", [
    (4, 3, 0, None, "Destination Net Unreachable"), (4, 3, 1, None, "Destination Host Unreachable"),
    (4, 3, 4, 1400, "Frag needed and DF set (mtu = 1400)"), (4, 3, 13, None, "Packet filtered"),
    (4, 3, 99, None, "Dest Unreachable, Bad Code: 99"), (4, 11, 0, None, "Time to live exceeded"),
    (6, 1, 0, None, "Destination unreachable: No route"),
    (6, 1, 3, None, "Destination unreachable: Address unreachable"), (6, 2, 0, 1280, "Packet too big: mtu=1280"),
])
def test_error_words_are_iputils(version, kind, code, mtu, text):
    assert error_text(version, kind, code, mtu) == text


# -- bookkeeping ---------------------------------------------------------------------------------------
def _log(n=3, timeout_ms=1000):
    log = ProbeLog(0x1234, "10.0.3.10", timeout_ms * 10**6)
    for i in range(n):
        log.sent(i * 10**9)
    return log


def _echo(seq, at_ms, identifier=0x1234):
    return EchoReply(identifier, seq, "10.0.3.10", 61, 64, at_ms * 10**6)


def test_replies_duplicates_late_and_out_of_order():
    log = _log(3)
    assert log.receive(_echo(1, 1)).rtt_ns == 10**6
    assert log.receive(_echo(1, 2)).duplicate                        # the same probe answered twice
    late = log.receive(_echo(3, 3500))                              # 1.5 s after probe 3: later than 1 s
    assert late.late and not late.out_of_order
    early = log.receive(_echo(2, 3600))                             # probe 3 was answered before probe 2
    assert early.out_of_order and early.late
    assert log.receive(_echo(2, 10, identifier=0x9999)) is None     # another pinger's reply
    assert log.receive(_echo(4, 10)) is None                        # a probe we never sent
    assert [r.seq for r in log.records] == [1, 2, 3, 1] and log.answered == 3


def test_errors_are_filed_under_the_quoted_probe():
    log = _log(2)
    error = ProbeError(4, 11, 0, "10.0.1.1", 64, 5 * 10**6, "10.0.3.10", identifier=0x1234, sequence=2)
    record = log.receive(error)
    assert record is log.probes[1] and record.error == "Time to live exceeded" and record.source == "10.0.1.1"
    assert log.receive(error).duplicate                             # a second error: a record of its own
    elsewhere = ProbeError(4, 11, 0, "10.0.1.1", 64, 0, "10.9.9.9", identifier=0x1234, sequence=1)
    assert log.receive(elsewhere) is None                           # quotes a probe to another host


def test_sequence_numbers_wrap_at_65536():
    log = _log(70_000)
    assert log.probe_for(70_000 & 0xFFFF).seq == 70_000
    assert log.probe_for(4465).seq == 70_001 - 65_536               # the latest probe with that number
    assert log.probe_for(4464).seq == 4464 + 65_536


# -- statistics -----------------------------------------------------------------------------------------
def test_summary_recomputed_from_the_records():
    log = _log(6)
    for seq, ms in ((1, 1), (2, 1003), (3, 2010), (5, 4001)):
        log.receive(_echo(seq, ms))
    log.receive(_echo(2, 1004))                                     # duplicate: its RTT counts too
    log.receive(ProbeError(4, 3, 1, "10.0.2.1", 63, 5_000_000_000, "10.0.3.10", identifier=0x1234, sequence=6))
    s = summarize(log.records, 5_500 * 10**6)
    assert (s.transmitted, s.received, s.duplicates, s.errors) == (6, 4, 1, 1)
    assert s.loss_percent == pytest.approx(100 * 2 / 6)
    rtts = [1.0, 3.0, 10.0, 1.0, 4.0]
    assert (s.min_ms, s.max_ms) == (1.0, 10.0)
    assert s.avg_ms == pytest.approx(statistics.fmean(rtts))
    assert s.mdev_ms == pytest.approx(statistics.pstdev(rtts))       # sqrt(mean(x^2) - mean(x)^2)
    assert s.time_ms == 5500 and s.pipe == 1 and s.ipg_ms is None


def test_pipe_and_ewma():
    log = _log(3)
    for seq, ms in ((1, 2500), (2, 2501), (3, 2502)):               # all three in flight at 2.5 s
        log.receive(_echo(seq, ms))
    s = summarize(log.records, 3000 * 10**6, flood=True)
    assert s.pipe == 3
    assert s.ipg_ms == 1500.0
    assert s.ewma_ms == pytest.approx(2500 + (1501 - 2500) / 8 + (502 - (2500 + (1501 - 2500) / 8)) / 8)


# -- iputils' format -----------------------------------------------------------------------------------
@pytest.mark.parametrize("us,text", [(45, "time=0.045 ms"), (999, "time=0.999 ms"), (1000, "time=1.00 ms"),
                                     (1234, "time=1.23 ms"), (9994, "time=9.99 ms"), (9995, "time=10.0 ms"),
                                     (12345, "time=12.3 ms"), (99949, "time=99.9 ms"), (99950, "time=100 ms"),
                                     (123456, "time=123 ms")])
def test_time_precision_like_iputils(us, text):
    assert format_time(us * 1000 + 999) == text                      # iputils works in whole microseconds


def test_lines_like_iputils():
    assert header_line("localhost", "127.0.0.1", 56, 4) == "PING localhost (127.0.0.1) 56(84) bytes of data."
    assert header_line("::1", "::1", 56, 6, source="::1") == "PING ::1(::1) from ::1 : 56 data bytes"
    reply = Probe(1, 0, 45_000, 45_000, 64, 64, "127.0.0.1")
    assert probe_line(reply) == "64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.045 ms"
    assert probe_line(reply, name="localhost") == "64 bytes from localhost (127.0.0.1): icmp_seq=1 ttl=64 time=0.045 ms"
    dup = Probe(65_537, 0, 1, 2_500_000, 64, 64, "127.0.0.1", duplicate=True)
    assert probe_line(dup) == "64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=2.50 ms (DUP!)"
    error = Probe(2, 0, 9, source="10.0.1.1", error="Time to live exceeded")
    assert probe_line(error) == "From 10.0.1.1 icmp_seq=2 Time to live exceeded"
    log = _log(3)
    log.receive(_echo(1, 1))
    log.receive(ProbeError(4, 11, 0, "10.0.1.1", 64, 1, "10.0.3.10", identifier=0x1234, sequence=2))
    assert statistics_lines("h", summarize(log.records, 2_000_400_000)) == [
        "", "--- h ping statistics ---",
        "3 packets transmitted, 1 received, +1 errors, 66.6667% packet loss, time 2000ms",
        "rtt min/avg/max/mdev = 1.000/1.000/1.000/0.000 ms"]
    nothing = summarize([Probe(1, 0)], 0)
    assert statistics_lines("h", nothing)[2:] == ["1 packets transmitted, 0 received, 100% packet loss, time 0ms", ""]


def test_traceroute_lines_like_traceroute_n():
    def probe(q, source, ms, mark=""):
        return TraceProbe(2, q, 0, 0, None if source is None else 1, None if source is None else int(ms * 1e6),
                          source, mark=mark)
    hop = Hop(2, (probe(0, "10.0.2.1", 0.069), probe(1, "10.0.2.1", 0.018), probe(2, "10.0.2.1", 0.014)))
    assert hop_line(hop) == " 2  10.0.2.1  0.069 ms  0.018 ms  0.014 ms"
    mixed = Hop(12, (probe(0, None, 0), probe(1, "10.0.2.1", 1.5), probe(2, "10.0.9.1", 2.25, "!H")))
    assert hop_line(mixed) == "12  * 10.0.2.1  1.500 ms 10.0.9.1  2.250 ms !H"
    assert hop_line(Hop(4, (probe(0, None, 0),) * 3)) == " 4  * * *"
    assert mixed.addresses == ["10.0.2.1", "10.0.9.1"]


def test_probe_table_moves_probes_through_its_state_table():
    """A traceroute probe is not sent, in flight, answered or given up, and moves only through
    TRACE_TABLE: an answer after the wait is ignored (and counted), a second answer too; the trace ends
    at the TTL of the first answer that ends it."""
    from netstudy.icmp import TRACE_TABLE, ProbeTable, TraceState
    probes = [TraceProbe(ttl, q, ttl * 10 + q) for ttl in (1, 2, 3) for q in range(2)]
    table = ProbeTable(probes, "icmp", 4, "10.0.3.10", identifier=7, wait_ns=1000)
    assert {p.state for p in probes} == {TraceState.NOT_SENT} and table.last_ttl == 3
    for i, probe in enumerate(probes[:4]):
        table.sent(probe, i * 100)
    assert table.in_flight() == probes[:4]

    def exceeded(key, at, router="10.0.1.1"):
        return ProbeError(4, 11, 0, router, 64, at, "10.0.3.10", identifier=7, sequence=key)
    assert table.receive(exceeded(10, 150)) is probes[0] and probes[0].rtt_ns == 150
    assert table.receive(exceeded(10, 160)) is None                       # answered already
    assert table.receive(exceeded(99, 160)) is None                       # not one of ours
    assert table.expire(1200) == [probes[1], probes[2]]                  # sent at 100 and 200: waited >= 1000 ns
    assert table.receive(exceeded(11, 1210)) is None and table.late == 1  # given up: too late
    reply = EchoReply(7, 21, "10.0.3.10", 62, 64, 1250)
    assert table.receive(reply) is probes[3] and probes[3].final and table.last_ttl == 2
    assert [p.state for p in probes] == [TraceState.ANSWERED, TraceState.GIVEN_UP, TraceState.GIVEN_UP,
                                         TraceState.ANSWERED, TraceState.NOT_SENT, TraceState.NOT_SENT]
    assert [hop.ttl for hop in table.hops()] == [1, 2] and table.in_flight() == []
    assert ("NOT_SENT", "send", "IN_FLIGHT") in TRACE_TABLE.rows()


def test_bad_options_are_input_errors():
    """What a user can get wrong is an InputError (a ValueError), raised before any socket is opened."""
    from netstudy.errors import InputError
    from netstudy.icmp import Ping, Traceroute
    for make in (lambda: Ping("127.0.0.1", count=0), lambda: Ping("127.0.0.1", interval=-1),
                 lambda: Traceroute("127.0.0.1", method="tcp"), lambda: Traceroute("127.0.0.1", first_ttl=40),
                 lambda: EchoTemplate(1, 70_000)):
        with pytest.raises(InputError):
            make()


def test_mdev_formula_is_the_population_deviation():
    values = [0.028, 0.030, 0.127]
    mean = sum(values) / 3
    assert math.sqrt(sum(v * v for v in values) / 3 - mean * mean) == pytest.approx(statistics.pstdev(values))


# -- replaying recorded captures (what the notebook shows without privileges) ------------------------
def test_replay_of_recorded_captures():
    from importlib.resources import files

    from netstudy.icmp import replay, replay_trace
    from netstudy.lab import routed
    from netstudy.pcap import read
    captures = files("netstudy") / "data" / "captures"
    loopback = replay(read(captures / "loopback_ping.pcap"))
    assert (loopback.summary.transmitted, loopback.summary.received, loopback.mechanism) == (40, 40, "capture")
    assert all(r.ttl == 64 and r.size == 64 and 0 < r.rtt_ns < 10**7 for r in loopback.records)
    exceeded = replay(read(captures / "lab_ttl_exceeded.pcap"))
    assert ([(r.source, r.icmp_type, r.error) for r in exceeded.records]
            == [("10.0.1.1", 11, "Time to live exceeded")] * 3)
    unreachable = replay(read(captures / "lab_host_unreachable.pcap"))
    assert [r.error for r in unreachable.records] == ["Destination Host Unreachable"] * 3
    assert unreachable.summary.pipe == 3 and unreachable.summary.errors == 3
    trace = replay_trace(read(captures / "lab_traceroute.pcap"))
    assert trace.addresses() == routed().hops("scanner", "target") and trace.reached
    assert [len(hop.probes) for hop in trace.hops] == [3, 3, 3]


def test_replay_of_an_iputils_capture_agrees_with_tshark():
    from tshark import CAPTURES, load

    from netstudy.icmp import replay
    from netstudy.pcap import read
    path = CAPTURES / "lo_ping4.pcap"
    result = replay(read(path))
    rows = load(path)
    requests = [r for r in rows if r["icmp.type"] == "8"]
    assert result.summary.transmitted == len(requests)
    assert result.identifier == int(requests[0]["icmp.ident"], 0)
    replies = {int(r["icmp.seq"]): float(r["frame.time_epoch"]) for r in rows if r["icmp.type"] == "0"}
    sent = {int(r["icmp.seq"]): float(r["frame.time_epoch"]) for r in requests}
    for probe in result.records:
        assert probe.rtt_ns / 1e9 == pytest.approx(replies[probe.seq] - sent[probe.seq], abs=2e-6)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=8, max_size=80))
def test_reply_checksum_check_agrees_with_rfc1071(body):
    """The reply path's shortcut (a remainder modulo 0xFFFF) says what netstudy.wire's verify says."""
    message = bytearray(b"\x00\x00" + body[2:])
    checksum = internet_checksum(bytes(message[:2]) + b"\x00\x00" + bytes(message[4:]))
    good = bytes(message[:2]) + checksum.to_bytes(2, "big") + bytes(message[4:])
    for candidate in (good, bytes(message)):
        event = read_message(candidate, 0, 4, "127.0.0.1", 64, 0, verify_checksum=True)
        assert event.checksum_ok == verify(candidate)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 63), st.integers(0, 3), st.integers(1, 255), st.booleans(), st.integers(0, 8191),
       st.binary(min_size=4, max_size=4))
def test_field_reader_reads_what_the_codec_reads(dscp, ecn, ttl, df, fragment_offset, src):
    """The hot path's FieldReader and IPv4.parse agree on every field, sub-byte ones included."""
    from netstudy.wire.echo import FieldReader
    address = socket.inet_ntoa(src)
    data = bytes(IPv4(src=address, dst="10.0.0.1", ttl=ttl, dscp=dscp, ecn=ecn, df=df,
                      fragment_offset=fragment_offset) / b"data")
    parsed = IPv4.parse(data)
    names = ("version", "ihl", "dscp", "ecn", "df", "fragment_offset", "ttl", "protocol", "checksum")
    assert FieldReader(IPv4, *names)(data) == tuple(int(getattr(parsed, n)) for n in names)
    assert FieldReader(IPv4, "src")(data) == (src,)
    echo = bytes(ICMPEcho(type=0, identifier=ttl, sequence=fragment_offset))
    joined = FieldReader(IPv4, "ttl", "src") + FieldReader(ICMPEcho, "type", "identifier", "sequence")
    assert joined.size == 28 and joined(data[:20] + echo) == (ttl, src, 0, ttl, fragment_offset)
