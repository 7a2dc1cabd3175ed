"""A classic BPF program: its instructions, its ``tcpdump -d`` listing, the ``struct sock_filter`` array the
kernel takes (``SO_ATTACH_FILTER``, socket(7)), and an interpreter that gives the kernel's verdict.

The instruction set is McCanne and Jacobson's BSD Packet Filter (1993), as Linux runs it
(Documentation/networking/filter.rst): an accumulator ``A``, an index register ``X``, sixteen scratch
words ``M[]``; loads from the packet are big-endian; a load past the end of the packet ends the program
with 0 (drop); ``ret`` gives the number of bytes to keep (0 = drop the packet).

Linux adds *ancillary loads* (linux/filter.h): an absolute load at ``SKF_AD_OFF`` (-4096) plus a code reads
the packet's metadata instead of its bytes. Two are modelled here, the ones libpcap compiles ``vlan`` to on
a live socket, where the kernel has already taken the 802.1Q tag out of the frame: ``SKF_AD_VLAN_TAG_PRESENT``
(``ldb [vlanp]``: 1 when the packet came with a tag) and ``SKF_AD_VLAN_TAG`` (``ldb [vlan_tci]``: the tag's
TCI; the kernel returns the whole value whatever the load's size).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import NamedTuple

from netstudy.errors import InputError

# Instruction classes and fields (linux/bpf_common.h, pcap/bpf.h)
LD, LDX, ST, STX, ALU, JMP, RET, MISC = range(8)
W, H, B = 0x00, 0x08, 0x10                                  # load sizes: word, half word, byte
IMM, ABS, IND, MEM, LEN, MSH = 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0   # load modes
ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, NEG, MOD, XOR = (0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70,
                                                        0x80, 0x90, 0xA0)
JA, JEQ, JGT, JGE, JSET = 0x00, 0x10, 0x20, 0x30, 0x40
K, X = 0x00, 0x08                                          # operand source: the constant k, or X
RET_A = 0x10
TAX, TXA = 0x00, 0x80
MEMWORDS = 16                                              # BPF_MEMWORDS
MAX_INSTRUCTIONS = 4096                                    # BPF_MAXINSNS: the kernel refuses longer programs

_SIZES = {W: 4, H: 2, B: 1}
_LOAD_NAMES = {W: "ld", H: "ldh", B: "ldb"}
_ALU_NAMES = {ADD: "add", SUB: "sub", MUL: "mul", DIV: "div", OR: "or", AND: "and", LSH: "lsh", RSH: "rsh",
              NEG: "neg", MOD: "mod", XOR: "xor"}
_JUMP_NAMES = {JA: "ja", JEQ: "jeq", JGT: "jgt", JGE: "jge", JSET: "jset"}
_MASK = 0xFFFFFFFF
_SOCK_FILTER = struct.Struct("=HBBI")                      # struct sock_filter {u16 code; u8 jt, jf; u32 k}
SKF_AD_OFF = 0xFFFFF000                                    # -4096 as the unsigned k of an absolute load
SKF_AD_VLAN_TAG, SKF_AD_VLAN_TAG_PRESENT = SKF_AD_OFF + 44, SKF_AD_OFF + 48
_ANCILLARY_NAMES = {SKF_AD_VLAN_TAG: "vlan_tci", SKF_AD_VLAN_TAG_PRESENT: "vlanp"}     # as bpf_image() names them


class Instruction(NamedTuple):
    """One ``struct sock_filter``: the opcode, the jump offsets if true and if false (counted from the next
    instruction), and the constant ``k``."""

    code: int
    jt: int
    jf: int
    k: int


def _operand(index: int, ins: Instruction) -> tuple[str, str]:
    """The mnemonic and the operand text of one instruction, as libpcap's ``bpf_image()`` writes them."""
    code, k = ins.code, ins.k
    cls = code & 0x07
    if cls == LD:
        mode, size = code & 0xE0, code & 0x18
        if mode == ABS and k in _ANCILLARY_NAMES:
            return _LOAD_NAMES.get(size, "ld"), f"[{_ANCILLARY_NAMES[k]}]"
        return _LOAD_NAMES.get(size, "ld"), {IMM: f"#{k:#x}", ABS: f"[{k}]", IND: f"[x + {k}]",
                                             MEM: f"M[{k}]", LEN: "#pktlen"}.get(mode, "?")
    if cls == LDX:
        mode = code & 0xE0
        if mode == MSH:
            return "ldxb", f"4*([{k}]&0xf)"
        return "ldx", {IMM: f"#{k:#x}", MEM: f"M[{k}]", LEN: "#pktlen"}.get(mode, "?")
    if cls in (ST, STX):
        return ("st" if cls == ST else "stx"), f"M[{k}]"
    if cls == ALU:
        op = code & 0xF0
        constant = f"#{k:#x}" if op in (AND, OR, XOR) else f"#{k}"      # bpf_image(): bit masks in hex
        return _ALU_NAMES.get(op, "?"), "" if op == NEG else "x" if code & X else constant
    if cls == JMP:
        op = code & 0xF0
        if op == JA:
            return "ja", str(index + 1 + k)
        return _JUMP_NAMES.get(op, "?"), "x" if code & X else f"#{k:#x}"
    if cls == RET:
        return "ret", "a" if code & 0x18 == RET_A else f"#{k}"
    return ("txa" if code & 0xF8 == TXA else "tax"), ""


def _is_conditional(ins: Instruction) -> bool:
    return ins.code & 0x07 == JMP and ins.code & 0xF0 != JA


@dataclass(frozen=True)
class BpfProgram:
    """A checked classic BPF program. ``expression``, ``linktype``, ``snaplen`` and ``live`` (for a live
    socket's frames, not a file's) say what it was compiled from (empty for a program given as
    instructions); ``instructions`` is what the kernel runs."""

    instructions: tuple[Instruction, ...]
    expression: str = ""
    linktype: int = 1
    snaplen: int = 262144
    live: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "instructions", tuple(Instruction(*i) for i in self.instructions))
        check(self.instructions)

    def __len__(self) -> int:
        return len(self.instructions)

    def listing(self) -> str:
        """The program as ``tcpdump -d`` prints it: ``(000) ldh      [12]``, jumps with absolute targets."""
        lines = []
        for n, ins in enumerate(self.instructions):
            op, operand = _operand(n, ins)
            if _is_conditional(ins):
                lines.append(f"({n:03d}) {op:<8} {operand:<16} jt {n + 1 + ins.jt}\tjf {n + 1 + ins.jf}")
            else:
                lines.append(f"({n:03d}) {op:<8} {operand}".rstrip())
        return "\n".join(lines)

    def c_array(self) -> str:
        """The program as ``tcpdump -dd`` prints it: a C array of ``struct sock_filter`` initialisers."""
        return "\n".join(f"{{ {i.code:#04x}, {i.jt}, {i.jf}, {i.k:#010x} }}," for i in self.instructions)

    def packed(self) -> bytes:
        """The instructions as the kernel's ``struct sock_filter`` array (native byte order), what
        ``struct sock_fprog.filter`` points at for ``SO_ATTACH_FILTER``."""
        return b"".join(_SOCK_FILTER.pack(*i) for i in self.instructions)

    def run(self, data: bytes | bytearray | memoryview, wire_length: int | None = None,
            vlan_tci: int | None = None) -> int:
        """Run the program on one packet as the kernel would: the number of bytes to keep, 0 to drop it.
        ``data`` is what was captured, ``wire_length`` the packet's length on the wire (``len``; the
        captured length when not given), ``vlan_tci`` the TCI of an 802.1Q tag the kernel took out of the
        frame (a live socket's metadata; None: no tag outside the bytes, as in a file). A load past the end
        of ``data`` drops the packet."""
        return run(self.instructions, data, len(data) if wire_length is None else wire_length, vlan_tci)

    def accepts(self, data: bytes | bytearray | memoryview, wire_length: int | None = None,
                vlan_tci: int | None = None) -> bool:
        """True when the program keeps the packet (:meth:`run` is not 0)."""
        return self.run(data, wire_length, vlan_tci) != 0


def check(instructions: tuple[Instruction, ...]) -> None:
    """InputError unless the kernel would accept the program (``bpf_check_classic``, net/core/filter.c):
    1 to 4096 known instructions, jumps that land inside it, scratch words 0-15, no division by a
    constant 0, shifts under 32, and a ``ret`` at the end."""
    count = len(instructions)
    if not 0 < count <= MAX_INSTRUCTIONS:
        raise InputError(f"a BPF program has 1 to {MAX_INSTRUCTIONS} instructions, not {count}")
    for n, (code, jt, jf, k) in enumerate(instructions):
        where = f"BPF instruction {n} ({code:#06x})"
        if not (0 <= code <= 0xFFFF and 0 <= jt <= 255 and 0 <= jf <= 255 and 0 <= k <= _MASK):
            raise InputError(f"{where}: a field is out of range")
        cls = code & 0x07
        if code not in _VALID:
            raise InputError(f"{where}: not a classic BPF opcode the kernel knows")
        if (cls in (ST, STX) or code in (LD | MEM, LDX | MEM)) and k >= MEMWORDS:
            raise InputError(f"{where}: scratch word M[{k}] is past M[{MEMWORDS - 1}]")
        if cls == ALU and not code & X and (code & 0xF0 in (DIV, MOD) and k == 0
                                             or code & 0xF0 in (LSH, RSH) and k >= 32):
            raise InputError(f"{where}: division by 0 or a shift of 32 bits or more")
        if cls == JMP:
            targets = (k,) if code & 0xF0 == JA else (jt, jf)
            if any(n + 1 + t >= count for t in targets):
                raise InputError(f"{where}: jumps past the end of the program")
    if instructions[-1].code & 0x07 != RET:
        raise InputError("a BPF program must end with a ret instruction")


_VALID = frozenset(
    [LD | s | m for s in (W, H, B) for m in (ABS, IND)] + [LD | W | IMM, LD | W | LEN, LD | W | MEM]
    + [LDX | W | IMM, LDX | W | LEN, LDX | W | MEM, LDX | B | MSH, ST, STX]
    + [ALU | op | src for op in _ALU_NAMES if op != NEG for src in (K, X)] + [ALU | NEG]
    + [JMP | JA] + [JMP | op | src for op in (JEQ, JGT, JGE, JSET) for src in (K, X)]
    + [RET | K, RET | RET_A, MISC | TAX, MISC | TXA])


def _alu(op: int, a: int, operand: int) -> int | None:
    """A op operand on 32 bits; None for a division by zero (the kernel then returns 0)."""
    if op == ADD:
        return (a + operand) & _MASK
    if op == SUB:
        return (a - operand) & _MASK
    if op == MUL:
        return (a * operand) & _MASK
    if op in (DIV, MOD):
        if operand == 0:
            return None
        return a // operand if op == DIV else a % operand
    if op == OR:
        return a | operand
    if op == AND:
        return a & operand
    if op == XOR:
        return a ^ operand
    if op == LSH:
        return (a << operand) & _MASK if operand < 32 else 0
    if op == RSH:
        return a >> operand if operand < 32 else 0
    return -a & _MASK                                          # NEG


_UNPACK = {W: struct.Struct("!I").unpack_from, H: struct.Struct("!H").unpack_from,
           B: struct.Struct("!B").unpack_from}


def ancillary(k: int, vlan_tci: int | None) -> int | None:
    """The value of the ancillary load at ``k`` (``SKF_AD_OFF`` + code) for a packet whose stripped tag had
    ``vlan_tci``; None for the codes not modelled (the packet is then dropped, as a load that fails)."""
    if k == SKF_AD_VLAN_TAG_PRESENT:
        return int(vlan_tci is not None)
    if k == SKF_AD_VLAN_TAG:
        return vlan_tci or 0
    return None


def run(instructions: tuple[Instruction, ...], data: bytes | bytearray | memoryview, wire_length: int,
        vlan_tci: int | None = None) -> int:
    """Interpret a checked program on ``data`` (see :meth:`BpfProgram.run`)."""
    size = len(data)
    a = x = 0
    mem = [0] * MEMWORDS
    pc = 0
    count = len(instructions)
    while pc < count:
        code, jt, jf, k = instructions[pc]
        pc += 1
        cls = code & 0x07
        if cls in (LD, LDX):
            mode = code & 0xE0
            if mode in (ABS, IND):
                width = code & 0x18
                offset = k + x if mode == IND else k
                if offset + _SIZES[width] <= size:
                    a = _UNPACK[width](data, offset)[0]
                elif mode == ABS and k >= SKF_AD_OFF and (value := ancillary(k, vlan_tci)) is not None:
                    a = value
                else:
                    return 0
            elif mode == MSH:
                if k >= size:
                    return 0
                x = (data[k] & 0x0F) << 2
            else:
                value = k if mode == IMM else wire_length if mode == LEN else mem[k]
                if cls == LD:
                    a = value
                else:
                    x = value
        elif cls == JMP:
            op = code & 0xF0
            if op == JA:
                pc += k
                continue
            operand = x if code & X else k
            if op == JEQ:
                taken = a == operand
            elif op == JGT:
                taken = a > operand
            elif op == JGE:
                taken = a >= operand
            else:
                taken = a & operand != 0
            pc += jt if taken else jf
        elif cls == ALU:
            result = _alu(code & 0xF0, a, x if code & X else k)
            if result is None:
                return 0
            a = result
        elif cls == RET:
            return a if code & 0x18 == RET_A else k
        elif cls == ST:
            mem[k] = a
        elif cls == STX:
            mem[k] = x
        elif code & 0xF8 == TXA:
            a = x
        else:
            x = a
    return 0
