"""The sweep's sans-I/O core, driven with made-up times; its output lines, vendors and ARP frames."""
from __future__ import annotations

import struct

import pytest

from netstudy.errors import InputError
from netstudy.states import ImpossibleTransition
from netstudy.sweep import (
    TABLE,
    Answer,
    State,
    SweepTable,
    arp_request,
    combine,
    expand,
    host_line,
    initial_ttl,
    read_arp_reply,
    summary_line,
    sweep_lines,
)
from netstudy.sweep.vendors import read_table, vendor
from netstudy.wire import ARP, Ethernet
from netstudy.wire.echo import EchoReply, ProbeError

MS = 1_000_000


def reply(table: SweepTable, probe, at_ns: int, ttl: int = 64, identifier: int | None = None,
          source: str | None = None) -> EchoReply:
    return EchoReply(table.identifier if identifier is None else identifier, probe.sequence,
                     source or probe.address, ttl, 64, at_ns)


# -- expanding targets --------------------------------------------------------------------------------
def test_a_cidr_expands_to_its_hosts_like_fping_g():
    hosts = expand("10.0.0.0/24")
    assert len(hosts) == 254 and hosts[0] == "10.0.0.1" and hosts[-1] == "10.0.0.254"
    assert expand("10.0.0.7/30") == ["10.0.0.5", "10.0.0.6"]          # host bits ignored, like fping
    assert expand("10.0.0.4/31") == ["10.0.0.4", "10.0.0.5"]          # point-to-point: both (RFC 3021)
    assert expand(["10.0.0.9", "10.0.0.8/31", "10.0.0.9"]) == ["10.0.0.9", "10.0.0.8"]


@pytest.mark.parametrize("spec, words", [
    ("10.0.0.0/15", "at most a /16"), ("10.0.0.0/8", "16777216 addresses"), ("fd00::/64", "IPv4"),
    ("10.0.0.300", "does not appear to be an IPv4 network"), ("eth0", "does not appear"),
])
def test_bad_targets_say_what_is_wrong(spec, words):
    with pytest.raises(InputError, match=words):
        expand(spec)
    assert len(expand("10.0.0.0/16")) == 65534


def test_initial_ttl_is_the_next_usual_value():
    assert [initial_ttl(t) for t in (64, 63, 1, 65, 128, 120, 129, 255, 250)] == [64, 64, 64, 128, 128, 128,
                                                                                   255, 255, 255]


# -- the table --------------------------------------------------------------------------------------------
def test_states_move_only_through_the_table():
    assert TABLE.initial is State.QUEUED
    assert TABLE.next(State.QUEUED, "send") is State.WAITING
    with pytest.raises(ImpossibleTransition):
        TABLE.next(State.ALIVE, "send")
    assert ("WAITING", "give up", "SILENT") in TABLE.rows()


def test_a_reply_is_matched_by_identifier_sequence_and_address():
    table = SweepTable(["10.0.0.1", "10.0.0.2", "10.0.0.3"], identifier=0x4242, timeout_ns=500 * MS)
    probes = [table.send(i * MS) for i in range(3)]
    assert [p.address for p in probes] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"] and table.send(3 * MS) is None
    assert [p.sequence for p in probes] == [0, 1, 2] and table.in_flight() == 3
    assert table.receive(reply(table, probes[1], 2 * MS, identifier=0x1111)) is None      # another pinger's
    assert table.receive(reply(table, probes[1], 2 * MS, source="10.0.0.3")) is None      # wrong address
    assert table.strays == 2
    target = table.receive(reply(table, probes[1], 1 * MS + 250_000, ttl=62))
    assert target is not None and target.state is State.ALIVE and target.rtt_ns == 250_000
    assert (target.ttl, target.initial_ttl, target.hops, target.answer) == (62, 64, 2, "echo reply")
    assert table.receive(reply(table, probes[1], 3 * MS)) is None                         # a duplicate
    assert table.settled == 1 and not table.done


def test_silence_is_retried_with_back_off_then_given_up():
    table = SweepTable(["10.0.0.1"], timeout_ns=100 * MS, retries=2, backoff=2.0)
    first = table.send(0)
    assert table.next_deadline() == 100 * MS and table.expire(99 * MS) == []
    assert table.expire(100 * MS) == [] and table.targets[0].state is State.QUEUED and table.has_due
    second = table.send(101 * MS)
    assert (second.attempt, second.sequence != first.sequence) == (1, True)
    assert table.next_deadline() == 301 * MS            # the second attempt waits twice as long
    table.expire(301 * MS)
    table.send(302 * MS)
    assert table.next_deadline() == 702 * MS            # and the third four times
    given_up = table.expire(702 * MS)
    assert [t.state for t in given_up] == [State.SILENT] and table.done
    assert [m.what for m in table.timeline] == ["probe", "retry", "probe", "retry", "probe", "give up"]
    late = reply(table, first, 800 * MS)
    assert table.receive(late) is None and table.late == 1


def test_an_answer_to_an_earlier_attempt_counts_with_its_own_rtt():
    table = SweepTable(["10.0.0.1"], timeout_ns=100 * MS, retries=1)
    first = table.send(0)
    table.expire(100 * MS)
    target = table.receive(reply(table, first, 120 * MS))          # came back after its wait, before the retry
    assert target is not None and target.alive and target.rtt_ns == 120 * MS and target.attempts == 1
    assert table.send(130 * MS) is None and table.done


def test_an_icmp_error_about_a_probe_makes_it_unreachable():
    table = SweepTable(["10.0.3.99"], identifier=7)
    probe = table.send(0)
    error = ProbeError(4, 3, 1, "10.0.2.1", 63, 3000 * MS, "10.0.3.99", identifier=7, sequence=probe.sequence)
    target = table.receive(error)
    assert target is not None and target.state is State.UNREACHABLE and target.source == "10.0.2.1"
    assert host_line(target) == "10.0.3.99 unreachable: Destination Host Unreachable from 10.0.2.1"


def test_arp_and_tcp_answers_are_matched_by_address():
    table = SweepTable(["10.0.0.10", "10.0.0.11"], "arp")
    table.send(0)
    table.send(MS)
    assert table.receive(Answer("10.0.0.99", "arp reply", 2 * MS, mac="02:00:0a:00:00:63")) is None
    target = table.receive(Answer("10.0.0.11", "arp reply", 2 * MS, mac="02:00:0a:00:00:0b"))
    assert target is not None and (target.mac, target.rtt_ns, target.found_by) == ("02:00:0a:00:00:0b", MS, "arp")
    tcp = SweepTable(["10.0.0.10"], "tcp")
    tcp.send(0)
    found = tcp.receive(Answer("10.0.0.10", "reset", 300_000, port=80, ttl=64))
    assert found is not None and found.alive and host_line(found) == "10.0.0.10 (0.300 ms) (TTL 64) tcp/80 reset"


def test_finish_gives_up_whatever_is_left():
    table = SweepTable(["10.0.0.1", "10.0.0.2", "10.0.0.3"])
    table.send(0)
    table.send(MS)
    assert [t.address for t in table.finish(2 * MS)] == ["10.0.0.1", "10.0.0.2"]
    assert table.targets[2].state is State.QUEUED and table.send(3 * MS) is None


def test_bad_settings_are_refused():
    with pytest.raises(InputError, match="method"):
        SweepTable(["10.0.0.1"], "udp")
    with pytest.raises(InputError, match="retries >= 0"):
        SweepTable(["10.0.0.1"], retries=-1)


# -- results and output ---------------------------------------------------------------------------------
def _result(method: str = "icmp"):
    table = SweepTable(["10.0.0.1", "10.0.0.2", "10.0.0.3"], method, identifier=1, timeout_ns=100 * MS, retries=0)
    probes = [table.send(i * MS) for i in range(3)]
    if method == "icmp":
        table.receive(reply(table, probes[0], 52_000))
    else:
        table.receive(Answer("10.0.0.1", "arp reply", 1 * MS, mac="00:00:0c:12:34:56"))
        table.receive(Answer("10.0.0.3", "arp reply", 3 * MS, mac="02:00:0a:00:00:03"))
    table.expire(10**9)
    return table.result("10.0.0.0/30", "raw" if method == "icmp" else "packet", 1_020_000_000)


def test_lines_read_like_fping_a_e_and_a_summary():
    result = _result()
    assert sweep_lines(result) == ["10.0.0.1 (0.052 ms) (TTL 64)", "1 host up of 3 scanned in 1.02 s"]
    assert sweep_lines(result, everything=True)[1:3] == ["10.0.0.2 silent", "10.0.0.3 silent"]
    assert result.addresses() == ["10.0.0.1"] and result.addresses(State.SILENT) == ["10.0.0.2", "10.0.0.3"]


def test_to_frame_has_a_row_per_address():
    frame = _result().to_frame()
    assert list(frame["address"]) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert list(frame["state"]) == ["alive", "silent", "silent"]
    assert frame.loc[0, "rtt_ms"] == pytest.approx(0.052) and frame.loc[0, "initial_ttl"] == 64
    assert list(frame["attempts"]) == [1, 1, 1]
    timeline = _result().timeline_frame()
    assert list(timeline["what"]) == ["probe", "answer", "probe", "probe", "give up", "give up"]


def test_combine_finds_what_any_method_found():
    icmp, arp = _result("icmp"), _result("arp")
    both = combine([icmp, arp])
    assert [t.address for t in both.alive] == ["10.0.0.1", "10.0.0.3"]
    first, third = both.targets[0], both.targets[2]
    assert (first.ttl, first.mac, first.found_by) == (64, "00:00:0c:12:34:56", "icmp,arp")
    assert (third.ttl, third.mac, third.found_by) == (None, "02:00:0a:00:00:03", "arp")
    assert summary_line(both) == "2 hosts up of 3 scanned in 2.04 s"


# -- vendors and ARP frames -------------------------------------------------------------------------------
def test_vendor_names_from_either_file_format_and_the_special_bits():
    table = read_table("# comment\n00000C Cisco Systems\n00-50-56   (hex)\t\tVMware, Inc.\nnonsense\n")
    assert table == {"00000C": "Cisco Systems", "005056": "VMware, Inc."}
    assert vendor("00:50:56:aa:bb:cc", table) == "VMware, Inc."
    assert vendor("00:11:22:33:44:55", table) == "unknown"
    assert vendor("02:00:0a:00:00:0a", table) == "locally administered"
    assert vendor("01:00:5e:00:00:01", table) == "multicast"


def test_the_shipped_oui_excerpt_reads():
    from importlib.resources import files
    table = read_table((files("netstudy") / "data" / "sweep" / "oui.txt").read_text())
    assert len(table) >= 10 and table["00000C"] == "Cisco Systems, Inc"


def test_an_arp_request_built_by_netstudy_equals_struct():
    frame = arp_request("02:00:0a:00:00:02", "10.0.0.2", "10.0.0.10")
    by_hand = (b"\xff" * 6 + bytes.fromhex("02000a000002") + struct.pack("!H", 0x0806)
               + struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, bytes.fromhex("02000a000002"),
                             bytes([10, 0, 0, 2]), bytes(6), bytes([10, 0, 0, 10])))
    assert frame == by_hand and len(frame) == 42


def test_an_arp_reply_reads_as_an_answer_only_when_it_is_for_us():
    reply_frame = (Ethernet(dst="02:00:0a:00:00:02", src="02:00:0a:00:00:0a")
                   / ARP(opcode=2, sender_mac="02:00:0a:00:00:0a", sender_ip="10.0.0.10",
                         target_mac="02:00:0a:00:00:02", target_ip="10.0.0.2")).build() + bytes(18)
    answer = read_arp_reply(reply_frame, "10.0.0.2", 5)
    assert answer == Answer("10.0.0.10", "arp reply", 5, mac="02:00:0a:00:00:0a")
    assert read_arp_reply(reply_frame, "10.0.0.3", 5) is None                     # someone else's
    assert read_arp_reply(arp_request("02:00:0a:00:00:02", "10.0.0.2", "10.0.0.10"), "10.0.0.2", 5) is None
    assert read_arp_reply(reply_frame[:30], "10.0.0.2", 5) is None                  # cut short
