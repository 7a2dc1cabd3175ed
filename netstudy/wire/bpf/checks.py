"""What the lowering of a filter expression produces and the code generator lays out
(:mod:`netstudy.wire.bpf.compile`): tests (:class:`Check`, combined by :class:`All`, :class:`Any`,
:class:`Negate`), and the loads they start with, at a fixed offset or at a :class:`Offset` known only
when the program runs (libpcap's variable offsets, gencode.c: after ``vlan`` on a live socket).
"""
from __future__ import annotations

from dataclasses import dataclass

from netstudy.wire.bpf.program import (
    ABS,
    ADD,
    ALU,
    AND,
    IND,
    JEQ,
    LD,
    LDX,
    LSH,
    MEM,
    MISC,
    MSH,
    TAX,
    B,
    H,
    Instruction,
    K,
    W,
    X,
)

SIZE_CODES = {1: B, 2: H, 4: W}


@dataclass(frozen=True)
class Check:
    """Run ``setup`` (it leaves the value in A, and X where ``op`` compares with X), then jump on ``op``."""

    setup: tuple[Instruction, ...]
    op: int                    # JEQ, JGT, JGE or JSET, with X for ``A op X``
    k: int = 0


@dataclass(frozen=True)
class All:
    parts: tuple[Test, ...]


@dataclass(frozen=True)
class Any:
    parts: tuple[Test, ...]


@dataclass(frozen=True)
class Negate:
    part: Test


Test = Check | All | Any | Negate
TRUE, FALSE = All(()), Any(())


def all_of(*parts: Test) -> Test:
    """Every part (constants folded away)."""
    if FALSE in parts:
        return FALSE
    kept = tuple(p for p in parts if p != TRUE)
    return kept[0] if len(kept) == 1 else All(kept)


def any_of(*parts: Test) -> Test:
    """At least one part (constants folded away)."""
    if TRUE in parts:
        return TRUE
    kept = tuple(p for p in parts if p != FALSE)
    return kept[0] if len(kept) == 1 else Any(kept)


def negate(part: Test) -> Test:
    return FALSE if part == TRUE else TRUE if part == FALSE else part.part if isinstance(part, Negate) else Negate(part)


def stmt(code: int, k: int = 0) -> Instruction:
    return Instruction(code, 0, 0, k)


@dataclass(frozen=True)
class Offset:
    """A place known only when the program runs: the scratch word M[``register``] plus ``constant``
    (libpcap's variable offsets, after ``vlan`` on a live socket)."""

    register: int
    constant: int

    def __add__(self, more: int) -> Offset:
        return Offset(self.register, self.constant + more)


Place = int | Offset
NETWORK_REGISTER, ETHERTYPE_REGISTER = 0, 1          # the scratch words of the variable offsets (libpcap's order)


def constant_part(place: Place) -> int:
    return place.constant if isinstance(place, Offset) else place


def load(size: int, offset: Place) -> tuple[Instruction, ...]:
    """``ld{b,h,} [offset]``, or ``ldx M[r]; ld{b,h,} [x + constant]`` for a variable offset."""
    if isinstance(offset, Offset):
        return stmt(LDX | W | MEM, offset.register), stmt(LD | SIZE_CODES[size] | IND, offset.constant)
    return (stmt(LD | SIZE_CODES[size] | ABS, offset),)


def header_length_in_x(network: Place) -> tuple[Instruction, ...]:
    """X = where the IPv4 header at ``network`` ends, counted from its start (``ldxb 4*([nl]&0xf)``), plus
    the variable part of ``network`` when it has one."""
    if isinstance(network, Offset):
        return (stmt(LDX | W | MEM, network.register), stmt(LD | B | IND, network.constant),
                stmt(ALU | AND | K, 0x0F), stmt(ALU | LSH | K, 2), stmt(ALU | ADD | X), stmt(MISC | TAX))
    return (stmt(LDX | B | MSH, network),)


def compare(size: int, offset: Place, value: int, mask: int | None = None, op: int = JEQ) -> Check:
    """``ld{b,h,} [offset]`` (``and #mask``), then ``op #value``."""
    setup = load(size, offset) + ((stmt(ALU | AND | K, mask),) if mask is not None else ())
    return Check(setup, op, value)
