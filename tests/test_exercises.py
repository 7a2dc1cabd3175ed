"""Every exercise of notebooks 00, 01, 02 and 06: its check fails on the notebook's empty stub with a
message that guides without giving the answer away, and passes on the reference solution (a program's
``solutions.py``; notebook 00's course-wide answers are the ``solution_…`` functions of its collapsed
cells, tested here by the same definitions)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from netstudy.chat import solutions as chat_solutions
from netstudy.chat.core import ChatRoom
from netstudy.chat.exercises import check_seed_fix, check_topic_command
from netstudy.chat.seed import SeedServer
from netstudy.dns import solutions as dns_solutions
from netstudy.dns.exercises import check_decode_response, check_record_type
from netstudy.exercises import check_answer, check_checksum, reveal
from netstudy.icmp import solutions as icmp_solutions
from netstudy.icmp.exercises import check_echo_request, check_hops, check_ping_statistics
from netstudy.wire.dns import RData


def unsolved(verdict: str) -> bool:
    return verdict.startswith("✗")


def solved(verdict: str) -> bool:
    return verdict.startswith("✓")


def stub_checksum(data: bytes) -> int:
    return 0


def solution_checksum(data: bytes) -> int:            # the same as notebook 00's collapsed cell
    data += b"\x00" * (len(data) % 2)
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@dataclass(frozen=True)
class StubHINFO(RData):
    cpu: bytes
    os: bytes
    TYPE: ClassVar[int] = 13

    def write(self, w) -> None:
        pass

    @classmethod
    def read(cls, data: bytes, off: int, end: int) -> StubHINFO:
        return cls(b"", b"")

    def to_text(self) -> str:
        return ""


class StubRoom(ChatRoom):
    topic = "(no topic yet)"


class StubSeedServer(SeedServer):
    pass


CASES = [
    ("00 checksum", check_checksum, stub_checksum, solution_checksum),
    ("01 decode", check_decode_response, lambda data: (0, 0, ""), dns_solutions.decode_answer),
    ("01 HINFO", check_record_type, StubHINFO, dns_solutions.HINFO),
    ("02 echo", check_echo_request, lambda i, s, p: b"", icmp_solutions.echo_request),
    ("02 statistics", check_ping_statistics, lambda rtts: (0.0, 0.0, 0.0, 0.0), icmp_solutions.statistics),
    ("02 hops", check_hops, lambda ttl: (0, 0), icmp_solutions.initial_ttl_and_routers),
    ("06 topic", check_topic_command, StubRoom, chat_solutions.TopicRoom),
]


@pytest.mark.parametrize(("check", "stub", "solution"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_check_fails_on_the_stub_and_passes_on_the_solution(check, stub, solution):
    assert unsolved(check(stub)), check(stub)
    assert solved(check(solution)), check(solution)


def test_seed_fix_check_fails_on_the_stub_and_passes_on_the_solution():
    assert unsolved(check_seed_fix(StubSeedServer))
    assert solved(check_seed_fix(chat_solutions.LockedSeedServer))


def test_a_wrong_reading_is_not_answered_for_the_student():
    for said in (None, 64, "one"):
        verdict = check_answer("the probe's TTL", said, 1, "read the TTL box")
        assert unsolved(verdict) and "1" not in verdict.replace("TTL", ""), verdict
    assert solved(check_answer("the probe's TTL", 1, 1))


def test_hops_messages_guide_without_the_numbers():
    verdict = check_hops(lambda ttl: (0, 0))
    assert unsolved(verdict) and "64 (Linux" in verdict and "= 64" not in verdict
    verdict = check_hops(lambda ttl: (64, 0))
    assert unsolved(verdict) and "one off" in verdict


def test_reveal_prints_the_source_and_the_verdict_and_binds_nothing(capsys):
    before = set(globals())
    reveal(icmp_solutions.echo_request, check_echo_request)
    out = capsys.readouterr().out
    assert out.startswith("# netstudy.icmp.solutions.echo_request\ndef echo_request(")
    assert "struct.pack" in out and out.rstrip().splitlines()[-1].startswith("✓")
    assert set(globals()) == before
