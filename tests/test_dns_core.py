"""netstudy.dns.core.Exchange driven by hand: no socket, no clock, made-up times in nanoseconds."""
from __future__ import annotations

from pathlib import Path

import pytest

import netstudy
from netstudy.dns import TABLE, Exchange, Responder, State, load_zone
from netstudy.errors import InputError
from netstudy.states import ImpossibleTransition
from netstudy.wire.dns import Message, Question, tcp_unframe

ZONES = Path(netstudy.__file__).parent / "data" / "zones"
SERVER = ("127.0.0.1", 5353)
MS = 1_000_000


@pytest.fixture(scope="module")
def responder() -> Responder:
    return Responder(load_zone(ZONES / "netstudy.test.zone"))


def test_udp_tries_back_off_until_the_tries_are_used_up():
    ex = Exchange("www.netstudy.test", server=SERVER, timeout=0.7, tries=3)
    assert ex.state is State.READY and not ex.expire(0)
    now, waits = 1_000 * MS, []
    while (datagram := ex.send(now)) is not None:
        assert datagram == ex.wire                      # the same query, same ID, every try
        waits.append(ex.wait_ns)
        assert not ex.expire(ex.deadline_ns - 1)          # this try is still waiting
        now = ex.deadline_ns
    assert waits == [100 * MS, 200 * MS, 400 * MS]     # each wait doubles; together they last the timeout
    assert ex.state is State.TIMED_OUT and ex.sent == 3
    assert ex.history == [State.READY, State.UDP, State.UDP, State.UDP, State.TIMED_OUT]
    assert str(ex.timeout_error()) == ("no answer from 127.0.0.1#5353 for www.netstudy.test. A after 3 tries "
                                       "in 0.7 s")


def test_expire_ends_the_last_try_only_when_its_wait_is_over():
    ex = Exchange("www.netstudy.test", server=SERVER, timeout=0.3, tries=1)
    ex.send(0)
    assert not ex.expire(ex.deadline_ns - 1) and ex.state is State.UDP
    assert ex.expire(ex.deadline_ns) and ex.state is State.TIMED_OUT


def test_replies_that_do_not_answer_our_question_are_counted_and_ignored(responder):
    ex = Exchange("www.netstudy.test", server=SERVER)
    good = responder.receive(ex.wire)
    assert good is not None
    assert ex.receive(good, SERVER, 5) is None and ex.ignored == 1       # nothing asked yet
    ex.send(10 * MS)
    q = Message.parse(ex.wire)
    other_question = Message(id=q.id, qr=True, question=[Question("evil.netstudy.test", 1)]).to_wire()
    for data, source in [(good, ("127.0.0.1", 9999)),                     # wrong source port (RFC 5452 §9.1)
                         (bytes([good[0] ^ 0xFF]) + good[1:], SERVER),     # wrong ID
                         (other_question, SERVER),                         # wrong question
                         (ex.wire, SERVER),                                # our own query: not a response
                         (b"garbage", SERVER)]:
        assert ex.receive(data, source, 11 * MS) is None
    assert ex.ignored == 6 and ex.state is State.UDP
    assert ex.receive(good, SERVER, 13 * MS) is not None and ex.state is State.ANSWERED
    lookup = ex.lookup()
    assert lookup.answers() == ["127.0.0.80"] and lookup.transport == "UDP" and lookup.tries == 1
    assert lookup.rtt_ns == 3 * MS and lookup.ignored == 6 and not lookup.truncated_first
    assert ex.receive(good, SERVER, 14 * MS) is None and ex.ignored == 7     # a duplicate after the answer


def test_a_retry_answered_measures_rtt_from_the_last_send(responder):
    ex = Exchange("www.netstudy.test", server=SERVER, timeout=0.7, tries=3)
    ex.send(0)
    ex.send(ex.deadline_ns)                            # the first try's wait is over: the second try
    ex.receive(responder.receive(ex.wire), SERVER, ex.last_ns + 2 * MS)
    lookup = ex.lookup()
    assert lookup.tries == 2 and lookup.rtt_ns == 2 * MS and lookup.elapsed_ns == 102 * MS


def test_truncated_udp_reply_moves_to_tcp_with_length_framing(responder):
    ex = Exchange("many.netstudy.test", server=SERVER, edns=None)
    ex.send(0)
    truncated = responder.receive(ex.wire)
    assert truncated is not None
    assert ex.receive(truncated, SERVER, 1 * MS) is not None and ex.state is State.TRUNCATED
    frame = ex.send_tcp(2 * MS)
    assert tcp_unframe(bytearray(frame)) == [ex.wire]          # 2-byte length, then the query (RFC 1035 §4.2.2)
    assert ex.state is State.TCP and ex.deadline_ns == 2 * MS + ex.timeout_ns
    full = responder.receive(ex.wire, tcp=True)
    assert full is not None
    assert ex.receive(full, None, 5 * MS) is not None and ex.state is State.ANSWERED
    lookup = ex.lookup()
    assert lookup.transport == "TCP" and lookup.truncated_first and lookup.tries == 2
    assert len(lookup.answers()) == 40 and lookup.rtt_ns == 3 * MS and lookup.elapsed_ns == 5 * MS


def test_tcp_from_the_start_times_out_at_its_deadline():
    ex = Exchange("www.netstudy.test", server=SERVER, timeout=2.0)
    ex.send_tcp(0)
    assert not ex.expire(2_000 * MS - 1)
    assert ex.expire(2_000 * MS) and ex.history == [State.READY, State.TCP, State.TIMED_OUT]


def test_moves_outside_the_table_are_bugs_not_packets(responder):
    ex = Exchange("www.netstudy.test", server=SERVER)
    with pytest.raises(RuntimeError, match="the exchange is READY"):
        ex.lookup()
    ex.send(0)
    ex.receive(responder.receive(ex.wire), SERVER, 1)
    with pytest.raises(ImpossibleTransition, match="no move from ANSWERED on 'send udp'"):
        ex.send(2)
    assert ("READY", "send udp", "UDP") in TABLE.rows() and ("TCP", "deadline passed", "TIMED_OUT") in TABLE.rows()


def test_servers_and_tries_are_checked_at_the_boundary():
    with pytest.raises(InputError, match="'dns.example.com' is not an IP address"):
        Exchange("www.netstudy.test", server=("dns.example.com", 53))
    with pytest.raises(InputError, match="port must be a whole number from 1 to 65535, not 0"):
        Exchange("www.netstudy.test", server=("127.0.0.1", 0))
    with pytest.raises(InputError, match="tries must be a whole number from 1 to 10, not 0"):
        Exchange("www.netstudy.test", tries=0)
    with pytest.raises(InputError, match="tries must be a whole number from 1 to 10, not 1000"):
        Exchange("www.netstudy.test", tries=1000)           # the back-off would send a burst
    for timeout in (0, -1, float("nan"), float("inf"), 1e300):
        with pytest.raises(InputError, match="timeout must be a number above 0, up to 65535"):
            Exchange("www.netstudy.test", timeout=timeout)
