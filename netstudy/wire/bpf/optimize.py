"""A classic BPF optimiser in the spirit of libpcap's optimize.c (McCanne and Jacobson, "The BSD Packet
Filter", 1993, §4.1): the program becomes a graph of basic blocks, simplified until nothing changes,
then laid out again with 8-bit forward jumps (a ``ja`` where a target is further than 255).

Every value a register holds is named by what computed it (``ldh [12]``, ``4*([14]&0xf)``, ``[x + 16]``
with that X, arithmetic on those): the packet never changes while the program runs, so equal names are
equal values. Going forward through the graph (it has no loops), each edge carries what holds on every
path reaching it: the registers' names, the outcome of every test taken (``[12] = 0x800`` true or false)
and how many bytes of the packet a load has proved to be there. With that:

- **jump threading**: an edge into a block whose test is already decided on that edge goes straight to
  the outcome (or past an undecided test whose two outcomes end at the same place), when the loads
  passed over cannot fail (or the place is ``ret #0``, where a failing load ends too) and what they
  compute is not needed there;
- **redundant loads** (the value is already in the register on every path) and **dead stores** (nothing
  reads the value) are removed; a load that might run past the end of the packet is kept unless it is
  redundant, since a failing load drops the packet (the verdict stays the unoptimised program's on every
  packet, cut short or not);
- decided tests become plain jumps, blocks nothing reaches go, **jumps to jumps** are followed,
  **identical blocks** (the ``ret`` blocks among them) are merged, ``and #k; jeq #0`` becomes ``jset #k``,
  and a chain of ``or`` (``and``) tests is reordered so that tests of the value in A come together
  (libpcap's or_pullup), where the loads passed over cannot fail;
- the layout shares one ``ja`` among the jumps within reach of it.

Loads at the kernel's special offsets (``SKF_AD_OFF`` ancillary data such as ``vlan_tci``, linux/filter.h)
are treated like any absolute load, except that they prove nothing about the packet's length.
"""
from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

from netstudy.wire.bpf.program import (
    _SIZES,
    ABS,
    ALU,
    AND,
    DIV,
    IMM,
    IND,
    JA,
    JEQ,
    JGE,
    JGT,
    JMP,
    JSET,
    LD,
    LDX,
    LEN,
    MEM,
    MEMWORDS,
    MOD,
    NEG,
    RET,
    ST,
    STX,
    TXA,
    Instruction,
    K,
    X,
    _alu,
)

SPECIAL_OFFSETS = 0x80000000     # k from here on is negative: SKF_LL_OFF, SKF_NET_OFF, SKF_AD_OFF (linux/filter.h)
A_REGISTER, X_REGISTER = 0, 1    # register numbers in a state; M[k] is 2 + k
REGISTERS = 2 + MEMWORDS

Value = tuple                    # a value's name: ("abs", size, k), ("imm", k), ("alu", op, a, b), ...
Fact = tuple[Value, int, Value]  # A op operand (op: JEQ, JGT, JGE or JSET)
DROP = Instruction(RET | K, 0, 0, 0)
JEQ_0 = Instruction(JMP | JEQ | K, 0, 0, 0)


@dataclass(eq=False)
class Block:
    """A basic block: statements, then ``end`` — a conditional jump to ``true`` or ``false``, a ``ret``, or
    None to go on to ``true``."""

    statements: list[Instruction]
    end: Instruction | None
    true: Block | None = None
    false: Block | None = None

    @property
    def conditional(self) -> bool:
        return self.end is not None and self.end.code & 0x07 == JMP

    @property
    def returns(self) -> bool:
        return self.end is not None and self.end.code & 0x07 == RET

    def exit(self, taken: bool) -> Block:
        """Where the conditional jump goes when its test is ``taken`` (true) or not."""
        target = self.true if taken else self.false
        assert target is not None
        return target

    def successors(self) -> list[Block]:
        return [b for b in ((self.true, self.false) if self.conditional else (self.true,)) if b is not None]


@dataclass
class State:
    """What holds at a point on every path reaching it: each register's value, the tests' outcomes, and
    for each base (None: the packet's start; a value of X for ``[x + k]``) how many bytes loads proved."""

    registers: list[Value]
    facts: dict[Fact, bool] = field(default_factory=dict)
    bounds: dict[Hashable, int] = field(default_factory=dict)

    def copy(self) -> State:
        return State(list(self.registers), dict(self.facts), dict(self.bounds))


def optimize_program(instructions: Sequence[Instruction]) -> list[Instruction]:
    """A shorter program with the same verdict on every packet (see the module docstring)."""
    blocks = _blocks(instructions)
    while True:
        changed = _simplify(blocks)
        blocks, merged = _merge_identical(_reachable(blocks))
        if not (changed or merged):
            return _layout(blocks)


# --- the graph ---------------------------------------------------------------------------------------

def _blocks(instructions: Sequence[Instruction]) -> list[Block]:
    """The program cut into basic blocks, in program order (every jump goes forward, so this order is a
    topological one)."""
    leaders = {0}
    for n, ins in enumerate(instructions):
        if ins.code & 0x07 == JMP:
            targets = [n + 1 + ins.k] if ins.code & 0xF0 == JA else [n + 1 + ins.jt, n + 1 + ins.jf]
            leaders.update(targets + [n + 1])
        elif ins.code & 0x07 == RET:
            leaders.add(n + 1)
    starts = sorted(s for s in leaders if s < len(instructions))
    at = {start: Block([], None) for start in starts}
    for start, stop in zip(starts, starts[1:] + [len(instructions)], strict=True):
        block = at[start]
        block.statements = list(instructions[start:stop])
        last = block.statements[-1]
        if last.code & 0x07 == RET:
            block.end = block.statements.pop()
        elif last.code & 0x07 == JMP:
            block.statements.pop()
            if last.code & 0xF0 == JA:
                block.true = at[stop + last.k]
            else:
                block.end = Instruction(last.code, 0, 0, last.k)
                block.true, block.false = at[stop + last.jt], at[stop + last.jf]
        else:
            block.true = at[stop]
    return [at[s] for s in starts]


def _reachable(blocks: list[Block]) -> list[Block]:
    seen = {id(blocks[0])}
    stack = [blocks[0]]
    while stack:
        for successor in stack.pop().successors():
            if id(successor) not in seen:
                seen.add(id(successor))
                stack.append(successor)
    return [b for b in blocks if id(b) in seen]


def _merge_identical(blocks: list[Block]) -> tuple[list[Block], bool]:
    """Blocks with the same statements and the same exits become one (the later one, so every jump still
    goes forward)."""
    replaced: dict[int, Block] = {}
    kept: dict[tuple, Block] = {}

    def current(block: Block | None) -> Block | None:
        return None if block is None else replaced.get(id(block), block)

    for block in reversed(blocks):
        block.true, block.false = current(block.true), current(block.false)
        signature = (tuple(block.statements), block.end, id(block.true), id(block.false))
        if signature in kept:
            replaced[id(block)] = kept[signature]
        else:
            kept[signature] = block
    for block in blocks:
        block.true, block.false = current(block.true), current(block.false)
    return [b for b in blocks if id(b) not in replaced], bool(replaced)


def _layout(blocks: list[Block]) -> list[Instruction]:
    """The blocks as instructions: a ``ja`` where a block goes on to one that is not next, and a ``ja``
    after a conditional jump whose target is more than 255 instructions on, shared by the jumps before it
    within reach (repeated until all fit)."""
    order = list(blocks)
    while True:
        where: dict[int, int] = {}
        position = 0
        for i, block in enumerate(order):
            where[id(block)] = position
            following = order[i + 1] if i + 1 < len(order) else None
            position += len(block.statements) + (0 if block.end is None and block.true is following else 1)
        far = [(i, block) for i, block in enumerate(order) if block.conditional and any(
            where[id(target)] - (where[id(block)] + len(block.statements) + 1) > 255
            for target in (block.true, block.false))]
        if not far:
            break
        trampolines: dict[int, tuple[Block, int]] = {}     # this round's, by target: the block, its position
        for i, block in reversed(far):
            end = where[id(block)] + len(block.statements) + 1
            for side in ("true", "false"):
                target = getattr(block, side)
                if where[id(target)] - end <= 255:
                    continue
                shared, at = trampolines.get(id(target), (None, 0))
                if shared is not None and at + len(trampolines) - end <= 255:    # one ja for several jumps
                    setattr(block, side, shared)
                    continue
                trampoline = Block([], None, target)
                trampolines[id(target)] = trampoline, end
                setattr(block, side, trampoline)
                order.insert(i + 1, trampoline)
    out: list[Instruction] = []
    for i, block in enumerate(order):
        out.extend(block.statements)
        here = len(out) + 1
        assert block.true is not None or block.returns
        if block.end is None:
            assert block.true is not None
            if i + 1 == len(order) or block.true is not order[i + 1]:
                out.append(Instruction(JMP | JA, 0, 0, where[id(block.true)] - here))
        elif block.conditional:
            assert block.true is not None and block.false is not None
            out.append(Instruction(block.end.code, where[id(block.true)] - here, where[id(block.false)] - here,
                                   block.end.k))
        else:
            out.append(block.end)
    return out


# --- values ------------------------------------------------------------------------------------------

def _effect(registers: list[Value], ins: Instruction) -> tuple[int, Value, tuple[Hashable, int] | None]:
    """What a statement does: the register it sets, the value's name, and the bound its load needs
    (base, bytes), if it loads from the packet."""
    code, k = ins.code, ins.k
    cls = code & 0x07
    if cls in (LD, LDX):
        target = A_REGISTER if cls == LD else X_REGISTER
        mode, size = code & 0xE0, code & 0x18
        if mode == IMM:
            return target, ("imm", k), None
        if mode == LEN:
            return target, ("len",), None
        if mode == MEM:
            return target, registers[2 + k], None
        if mode == ABS:
            return target, ("abs", size, k), _bound(None, k, _SIZES[size])
        if mode == IND:
            x = registers[X_REGISTER]
            if x[0] == "imm" and x[1] + k < SPECIAL_OFFSETS:              # [x + k] with X known: [c + k]
                return target, ("abs", size, x[1] + k), _bound(None, x[1] + k, _SIZES[size])
            return target, ("ind", size, k, x), _bound(x, k, _SIZES[size])
        return target, ("msh", k), _bound(None, k, 1)                      # ldxb 4*([k]&0xf)
    if cls in (ST, STX):
        return 2 + k, registers[A_REGISTER if cls == ST else X_REGISTER], None
    if cls == ALU:
        op = code & 0xF0
        operand = registers[X_REGISTER] if code & X else ("imm", k)
        return A_REGISTER, _arithmetic(op, registers[A_REGISTER], operand), None
    if code & 0xF8 == TXA:
        return A_REGISTER, registers[X_REGISTER], None
    return X_REGISTER, registers[A_REGISTER], None                         # tax


def _bound(base: Value | None, k: int, size: int) -> tuple[Hashable, int]:
    """A load of ``size`` bytes at ``base + k`` succeeds when the packet has ``k + size`` bytes past
    ``base``; a load at a special offset proves only that the same load succeeds again."""
    if k >= SPECIAL_OFFSETS:
        return ("special", base, k, size), 1
    return base, k + size


def _arithmetic(op: int, a: Value, operand: Value) -> Value:
    if op == NEG:
        return ("imm", _alu(NEG, a[1], 0)) if a[0] == "imm" else ("neg", a)
    if a[0] == "imm" and operand[0] == "imm":
        folded = _alu(op, a[1], operand[1])
        if folded is not None:
            return ("imm", folded)
    return ("alu", op, a, operand)


def _cannot_fail(state: State, ins: Instruction, bound: tuple[Hashable, int] | None) -> bool:
    """The statement never ends the program: its load is within what earlier loads proved, and it
    divides by no X that may be 0."""
    if bound is not None:
        base, needed = bound
        return state.bounds.get(base, 0) >= needed
    if ins.code & 0x07 == ALU and ins.code & 0xF0 in (DIV, MOD) and ins.code & X:
        x = state.registers[X_REGISTER]
        return x[0] == "imm" and x[1] != 0
    return True


def _apply(state: State, ins: Instruction) -> None:
    register, value, bound = _effect(state.registers, ins)
    state.registers[register] = value
    if bound is not None:
        base, needed = bound
        state.bounds[base] = max(state.bounds.get(base, 0), needed)


def _test(state: State, block: Block) -> Fact:
    """What a conditional block's jump compares: A, the operation, and k or X."""
    jump = block.end
    assert jump is not None
    operand = state.registers[X_REGISTER] if jump.code & X else ("imm", jump.k)
    return state.registers[A_REGISTER], jump.code & 0xF0, operand


def _compare(op: int, a: int, b: int) -> bool:
    return {JEQ: a == b, JGT: a > b, JGE: a >= b}.get(op, a & b != 0)


def _decide(facts: dict[Fact, bool], test: Fact) -> bool | None:
    """The test's outcome if what is known decides it: the same test taken before, constants, or the
    range of values earlier tests left for the same value (``jeq #6`` true decides ``jeq #0x11``)."""
    a, op, operand = test
    if test in facts:
        return facts[test]
    if operand[0] != "imm":
        return None
    k = operand[1]
    if a[0] == "imm":
        return _compare(op, a[1], k)
    low, high = 0, 0xFFFFFFFF
    for (value, known_op, known_operand), outcome in facts.items():
        if value != a or known_operand[0] != "imm":
            continue
        c = known_operand[1]
        if known_op == JEQ and outcome:
            low, high = max(low, c), min(high, c)
        elif known_op == JGT:
            low, high = (max(low, c + 1), high) if outcome else (low, min(high, c))
        elif known_op == JGE:
            low, high = (max(low, c), high) if outcome else (low, min(high, c - 1))
        elif known_op == JSET == op and not outcome and k & ~c == 0:     # none of c's bits, so none of k's
            return False
        elif known_op == JSET == op and outcome and c & ~k == 0:         # one of c's bits, all in k
            return True
    if low == high:
        return _compare(op, low, k)
    if op == JEQ:
        return False if not low <= k <= high else None
    if op == JGT:
        return True if low > k else False if high <= k else None
    if op == JGE:
        return True if low >= k else False if high < k else None
    return None


def _meet(states: list[State], serial: int) -> State:
    """What holds on every one of the incoming edges; a register that differs gets a name of its own
    (its value on entering this block: a block runs at most once)."""
    first, rest = states[0], states[1:]
    registers = [value if all(s.registers[r] == value for s in rest) else ("phi", serial, r)
                 for r, value in enumerate(first.registers)]
    facts = {f: o for f, o in first.facts.items() if all(s.facts.get(f) is o for s in rest)}
    bounds = {b: min([n] + [s.bounds.get(b, 0) for s in rest]) for b, n in first.bounds.items()}
    return State(registers, facts, {b: n for b, n in bounds.items() if n})


# --- liveness ----------------------------------------------------------------------------------------

def _uses(ins: Instruction) -> set[int]:
    code, cls = ins.code, ins.code & 0x07
    if cls == LD:
        mode = code & 0xE0
        return {X_REGISTER} if mode == IND else {2 + ins.k} if mode == MEM else set()
    if cls == LDX:
        return {2 + ins.k} if code & 0xE0 == MEM else set()
    if cls == ST:
        return {A_REGISTER}
    if cls == STX:
        return {X_REGISTER}
    if cls in (ALU, JMP):
        return {A_REGISTER, X_REGISTER} if code & X and code & 0xF0 != NEG else {A_REGISTER}
    if cls == RET:
        return {A_REGISTER} if code & 0x18 == 0x10 else set()
    return {X_REGISTER} if code & 0xF8 == TXA else {A_REGISTER}


def _live_in(block: Block, live: dict[int, set[int]]) -> set[int]:
    needed = set().union(*(live[id(s)] for s in block.successors()))
    if block.end is not None:
        needed |= _uses(block.end)
    for ins in reversed(block.statements):
        needed.discard(_effect([("?",)] * REGISTERS, ins)[0])
        needed |= _uses(ins)
    return needed


# --- one forward pass --------------------------------------------------------------------------------

def _simplify(blocks: list[Block]) -> bool:
    """One pass in program order: thread the edges into each block, drop its redundant and dead
    statements, decide its test where it can and pull tests of the same value up to it. True if anything
    changed."""
    live: dict[int, set[int]] = {}
    predecessors: dict[int, int] = {id(b): 0 for b in blocks}
    for block in reversed(blocks):
        live[id(block)] = _live_in(block, live)
        for successor in (block.true, block.false):
            if successor is not None:
                predecessors[id(successor)] += 1
    incoming: dict[int, list[tuple[Block, str, State]]] = {id(b): [] for b in blocks}
    changed = False
    serial = -1
    while serial + 1 < len(blocks):
        serial += 1
        block = blocks[serial]
        edges = []
        for pred, side, state in incoming[id(block)]:
            target = _thread(block, state, live)
            if target is None:
                edges.append(state)
            else:
                setattr(pred, side, target)
                incoming[id(target)].append((pred, side, state))
                predecessors[id(block)] -= 1
                predecessors[id(target)] += 1
                changed = True
        if serial and not edges:
            continue                                          # nothing reaches it any more
        entry = _meet(edges, serial) if edges else State([("init", r) for r in range(REGISTERS)])
        changed |= _simplify_block(block, entry, live)
        exit_state = entry
        for ins in block.statements:
            _apply(exit_state, ins)
        while _pull_up(blocks, serial, exit_state, predecessors, live):
            changed = True
        if block.conditional:
            test = _test(exit_state, block)
            for side, outcome in (("true", True), ("false", False)):
                state = exit_state.copy()
                state.facts[test] = outcome
                incoming[id(getattr(block, side))].append((block, side, state))
        elif block.true is not None:
            incoming[id(block.true)].append((block, "true", exit_state))
    return changed


def _pull_up(blocks: list[Block], index: int, state: State, predecessors: dict[int, int],
             live: dict[int, set[int]]) -> bool:
    """libpcap's or_pullup and and_pullup: in a chain of tests that all jump to the same place when true
    (``or``; when false for ``and``), a test further down of the value this block tests moves up to come
    before the first test of another value, where the value is still in A (``port 1 or 2``'s
    ``[x+16] = 1, [x+14] = 2, [x+16] = 2`` becomes ``[x+16] = 1, [x+16] = 2, [x+14] = 2``). Only when the
    tests passed over only load A, reach nothing else, and their loads cannot fail here (else the new
    order could accept a packet the old one dropped)."""
    block = blocks[index]
    if not block.conditional:
        return False
    tested = state.registers[A_REGISTER]
    for side, other in (("false", "true"), ("true", "false")):
        common = getattr(block, other)
        registers = list(state.registers)
        previous, current = block, getattr(block, side)
        different: tuple[Block, Block] | None = None      # the first test of another value, and its predecessor
        while current.conditional and getattr(current, other) is common and predecessors[id(current)] == 1:
            for ins in current.statements:
                register, value, bound = _effect(registers, ins)
                if register != A_REGISTER or not _cannot_fail(state, ins, bound):
                    break
                registers[register] = value
            else:
                if registers[A_REGISTER] != tested:
                    different = different or (previous, current)
                elif different is not None:
                    rest = getattr(current, side)
                    if A_REGISTER in live[id(rest)]:
                        break
                    before, first = different
                    setattr(previous, side, rest)
                    setattr(current, side, first)
                    setattr(before, side, current)
                    blocks.remove(current)
                    blocks.insert(blocks.index(first), current)
                    return True
                previous, current = current, getattr(current, side)
                continue
            break
    return False


BRANCHES = 2      # undecided tests an edge may be threaded past (both outcomes meeting again)


def _thread(block: Block, state: State, live: dict[int, set[int]]) -> Block | None:
    """Where an edge carrying ``state`` can go instead of ``block`` (None: nowhere else)."""
    return _follow(block, state, state, True, live, BRANCHES)


def _follow(block: Block, state: State, origin: State, safe: bool, live: dict[int, set[int]],
            branches: int) -> Block | None:
    """The furthest block past ``block`` (entered with ``state``) that an edge carrying ``origin`` can go
    to instead: every test on the way is decided, or undecided but both outcomes end at the same place
    (at most ``branches`` times)."""
    if block.returns:
        return None
    after = state.copy()
    for ins in block.statements:
        safe = safe and _cannot_fail(after, ins, _effect(after.registers, ins)[2])
        _apply(after, ins)
    if not block.conditional:
        assert block.true is not None
        return _arrive(block.true, after, origin, safe, live, branches)
    test = _test(after, block)
    outcome = _decide(after.facts, test)
    if outcome is None and not branches:
        return None
    ends = []
    for side in ((True, False) if outcome is None else (outcome,)):
        taken = after.copy()
        taken.facts[test] = side
        ends.append(_arrive(block.exit(side), taken, origin, safe, live, branches - (outcome is None)))
    return ends[0] if all(end is ends[0] for end in ends) else None


def _arrive(block: Block, state: State, origin: State, safe: bool, live: dict[int, set[int]],
            branches: int) -> Block | None:
    """The furthest block an edge carrying ``origin`` can go to, given it reaches ``block`` with ``state``
    on the way: ``block`` itself when nothing on the way can fail (or ``block`` drops the packet anyway, as
    a failing load does) and the registers ``block`` reads hold the same values."""
    further = _follow(block, state, origin, safe, live, branches)
    if further is not None:
        return further
    if (safe or _drops(block)) and all(state.registers[r] == origin.registers[r] for r in live[id(block)]):
        return block
    return None


def _drops(block: Block) -> bool:
    return block.returns and block.end == DROP


def _simpler(ins: Instruction, register: int, value: Value) -> Instruction:
    """The statement as a constant load when its value is a known constant (``ld M[1]`` that holds 4, an
    ``add`` of constants), and ``[x + k]`` with X known as an absolute load, as libpcap folds them."""
    if register in (A_REGISTER, X_REGISTER) and value[0] == "imm":
        return Instruction((LD if register == A_REGISTER else LDX) | IMM, 0, 0, value[1])
    if ins.code & 0x07 == LD and ins.code & 0xE0 == IND and value[0] == "abs":
        return Instruction(LD | ins.code & 0x18 | ABS, 0, 0, value[2])
    return ins


def _simplify_block(block: Block, entry: State, live: dict[int, set[int]]) -> bool:
    """Drop the statements whose value is already in place, decide the test, turn ``and #k; jeq #0`` into
    ``jset #k`` (libpcap's peephole), then drop the statements nothing reads that cannot fail. A block that
    ends in ``ret #0``, or goes on to one, becomes ``ret #0``: whatever its statements do, failing
    included, the packet is dropped."""
    before = (list(block.statements), block.end, block.true, block.false)
    if block.end is None and block.true is not None and _drops(block.true):
        block.end, block.true = DROP, None
    if block.returns and block.end == DROP:
        block.statements = []
    state = entry.copy()
    kept: list[tuple[Instruction, bool]] = []
    for ins in block.statements:
        register, value, bound = _effect(state.registers, ins)
        safe = _cannot_fail(state, ins, bound)
        if state.registers[register] == value and safe:
            continue
        ins = _simpler(ins, register, value)
        kept.append((ins, safe))
        _apply(state, ins)
    if block.conditional:
        outcome = _decide(state.facts, _test(state, block))
        if outcome is not None or block.true is block.false:
            block.end, block.true, block.false = None, block.true if outcome is not False else block.false, None
    if block.conditional and kept and kept[-1][0].code == ALU | AND | K and block.end == JEQ_0 \
            and not any(A_REGISTER in live[id(s)] for s in block.successors()):
        block.end = Instruction(JMP | JSET | K, 0, 0, kept.pop()[0].k)
        block.true, block.false = block.false, block.true
    needed = set().union(*(live[id(s)] for s in block.successors()))
    if block.end is not None:
        needed |= _uses(block.end)
    statements = []
    for ins, safe in reversed(kept):
        register = _effect([("?",)] * REGISTERS, ins)[0]
        if register not in needed and safe:
            continue
        needed.discard(register)
        needed |= _uses(ins)
        statements.append(ins)
    block.statements = statements[::-1]
    return (block.statements, block.end, block.true, block.false) != before
