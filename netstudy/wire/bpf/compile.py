"""From a filter's syntax tree to classic BPF, with libpcap's meaning (gencode.c) for every primitive.

Two steps. *Lowering* turns each primitive into tests (:mod:`netstudy.wire.bpf.checks`): a :class:`Check` is a
few loads that leave a value in ``A``, then one conditional jump (``ldh [12]; jeq #0x800``); :class:`All`,
:class:`Any` and :class:`Negate` combine them. The link type decides the offsets (Ethernet: EtherType at 12,
network header at 14); ``vlan`` moves both 4 bytes on for everything written after it, as in tcpdump. On a
live Linux socket (``live=True``) the kernel has taken the outer 802.1Q tag out of the frame into metadata, so
the first ``vlan`` is compiled as libpcap does there (gencode.c, ``gen_vlan_bpf_extensions``): tagged when the
ancillary load ``[vlanp]`` says so (the ID from ``[vlan_tci]``), or when the frame still holds a tag (no
offload, QinQ's inner tag); since only the second case moves the headers, the offsets after it are *variable*:
scratch words M[0] (network header) and M[1] (EtherType) hold 0 or 4, loaded into ``X``. *Code generation*
lays the tests out with symbolic labels (true and false exits), then resolves them into the 8-bit forward
offsets of conditional jumps, putting a ``ja`` (32-bit offset) in wherever a target is more than 255
instructions away.
"""
from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from netstudy.wire.bpf.checks import (
    ETHERTYPE_REGISTER,
    FALSE,
    NETWORK_REGISTER,
    SIZE_CODES,
    TRUE,
    All,
    Check,
    Negate,
    Offset,
    Place,
    Test,
    all_of,
    any_of,
    compare,
    constant_part,
    header_length_in_x,
    load,
    negate,
    stmt,
)
from netstudy.wire.bpf.optimize import optimize_program
from netstudy.wire.bpf.parse import (
    And,
    Arith,
    Binary,
    Cast,
    FilterError,
    Host,
    Length,
    Load,
    Negative,
    Node,
    Not,
    Num,
    Or,
    Port,
    Protocol,
    ProtoNumber,
    Relation,
    Vlan,
    WireLength,
    parse,
)
from netstudy.wire.bpf.program import (
    ABS,
    ADD,
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
    LSH,
    MEM,
    MEMWORDS,
    MISC,
    MOD,
    MSH,
    MUL,
    NEG,
    OR,
    RET,
    RSH,
    SKF_AD_VLAN_TAG,
    SKF_AD_VLAN_TAG_PRESENT,
    ST,
    SUB,
    TAX,
    XOR,
    B,
    BpfProgram,
    H,
    Instruction,
    K,
    W,
    X,
)

ETHERTYPE_IPV4, ETHERTYPE_ARP, ETHERTYPE_RARP, ETHERTYPE_IPV6 = 0x0800, 0x0806, 0x8035, 0x86DD
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)       # 802.1Q, 802.1ad, the old QinQ value (libpcap's list)
TCP, UDP, SCTP, ICMP, IGMP, ICMPV6, IPV6_FRAGMENT = 6, 17, 132, 1, 2, 58, 44


# --- link types ----------------------------------------------------------------------------------------

@dataclass
class Link:
    """Where a link type puts things: the EtherType's offset (None when the frame has none), the network
    header's offset; ``vlan`` moves both on by 4 (the state is carried through the expression)."""

    linktype: int
    name: str
    ethertype_at: Place | None
    network_at: Place
    ethernet: bool = False
    vlan_depth: int = field(default=0)


LINKS = {
    0: ("BSD loopback", None, 4, False),
    1: ("Ethernet", 12, 14, True),
    101: ("Raw IP", None, 0, False),
    113: ("Linux cooked v1", 14, 16, False),
    228: ("Raw IPv4", None, 0, False),
    229: ("Raw IPv6", None, 0, False),
    276: ("Linux cooked v2", 0, 20, False),
}
# BSD loopback families (as libpcap reads files): AF_INET; AF_INET6 of NetBSD/OpenBSD, FreeBSD, macOS
_NULL_FAMILIES = {ETHERTYPE_IPV4: (2,), ETHERTYPE_IPV6: (24, 28, 30)}


class Lowering:
    """Turns a syntax tree into tests for one link type, in the order the expression is written."""

    def __init__(self, expression: str, linktype: int, live: bool = False) -> None:
        if linktype not in LINKS:
            raise FilterError(f"link type {linktype} is not supported (use one of "
                              f"{', '.join(f'{k} {v[0]}' for k, v in LINKS.items())})", expression, 1)
        name, ethertype_at, network_at, ethernet = LINKS[linktype]
        self.expression = expression
        self.link = Link(linktype, name, ethertype_at, network_at, ethernet)
        self.live = live
        self.prologue: tuple[Instruction, ...] = ()         # run before the tests: the variable offsets' 0
        self.scratch = 0                                     # the first scratch word free for arithmetic

    def reserve_variable_offsets(self) -> None:
        """Keep M[0] and M[1] for the variable offsets of a live ``vlan``, set to 0 before anything else."""
        self.prologue = (stmt(LD | W | IMM, 0), stmt(ST, NETWORK_REGISTER), stmt(ST, ETHERTYPE_REGISTER))
        self.scratch = 2

    def fail(self, reason: str, column: int = 1) -> FilterError:
        return FilterError(reason, self.expression, column)

    @property
    def nl(self) -> Place:
        return self.link.network_at

    def lower(self, node: Node) -> Test:
        if isinstance(node, And):
            return all_of(self.lower(node.left), self.lower(node.right))
        if isinstance(node, Or):
            return any_of(self.lower(node.left), self.lower(node.right))
        if isinstance(node, Not):
            return negate(self.lower(node.child))
        if isinstance(node, Protocol):
            return self.protocol(node.name)
        if isinstance(node, Host):
            return self.host(node)
        if isinstance(node, Port):
            return self.port(node)
        if isinstance(node, ProtoNumber):
            return self.proto_number(node)
        if isinstance(node, Cast):
            return self.cast(node)
        if isinstance(node, Vlan):
            return self.vlan(node)
        if isinstance(node, Length):
            over = Check((stmt(LD | W | LEN),), JGT if node.op == "less" else JGE, node.value)
            return negate(over) if node.op == "less" else over
        return self.relation(node)

    # -- the link layer
    def ethertype(self, value: int) -> Test:
        """The frame carries ``value`` (an EtherType) right above the link layer."""
        link = self.link
        if link.ethertype_at is not None:
            return compare(2, link.ethertype_at, value)
        version = {ETHERTYPE_IPV4: 4, ETHERTYPE_IPV6: 6}.get(value)
        if link.linktype == 101:                              # raw IP: the version nibble says which
            return compare(1, 0, version << 4, 0xF0) if version else FALSE
        if link.linktype in (228, 229):
            return TRUE if version == (4 if link.linktype == 228 else 6) else FALSE
        families = _NULL_FAMILIES.get(value, ())             # BSD loopback: the family, either byte order
        return any_of(*(compare(4, 0, f) for family in families for f in (family << 24, family)))

    def protocol(self, name: str) -> Test:
        if name in ("ip", "ip6", "arp", "rarp"):
            return self.ethertype({"ip": ETHERTYPE_IPV4, "ip6": ETHERTYPE_IPV6, "arp": ETHERTYPE_ARP,
                                   "rarp": ETHERTYPE_RARP}[name])
        number = {"tcp": TCP, "udp": UDP, "sctp": SCTP, "icmp": ICMP, "igmp": IGMP, "icmp6": ICMPV6}[name]
        if name in ("icmp", "igmp"):
            return self.ip_protocol(number)
        if name == "icmp6":
            return self.ip6_protocol(number)
        return any_of(self.ip_protocol(number), self.ip6_protocol(number))

    def ip_protocol(self, number: int) -> Test:
        return all_of(self.ethertype(ETHERTYPE_IPV4), compare(1, self.nl + 9, number))

    def ip6_protocol(self, number: int) -> Test:
        """The next header is ``number``, or a fragment header whose next header is (libpcap's gen_proto)."""
        return all_of(self.ethertype(ETHERTYPE_IPV6),
                      any_of(compare(1, self.nl + 6, number),
                             all_of(compare(1, self.nl + 6, IPV6_FRAGMENT), compare(1, self.nl + 40, number))))

    def first_fragment(self) -> Test:
        """IPv4 fragment offset 0: the datagram is whole, or this is its first fragment (ports are there)."""
        return negate(compare(2, self.nl + 6, 0x1FFF, op=JSET))

    # -- addresses
    def host(self, node: Host) -> Test:
        address = node.address
        if isinstance(address, bytes):
            return self.ether_host(node.direction, address, node.column)

        def match(at: Place) -> Test:
            return self.address_match(at, address, node.prefix)
        if address.version == 6:
            return all_of(self.ethertype(ETHERTYPE_IPV6),
                          self.directed(node.direction, self.nl + 8, self.nl + 24, match))
        kinds = [node.proto] if node.proto else ["ip", "arp", "rarp"]
        offsets = {"ip": (12, 16), "arp": (14, 24), "rarp": (14, 24)}     # sender, target (RFC 791, RFC 826)
        return any_of(*(all_of(self.protocol(kind), self.directed(node.direction, self.nl + offsets[kind][0],
                                                                  self.nl + offsets[kind][1], match))
                        for kind in kinds))

    @staticmethod
    def directed(direction: str | None, src_at: Place, dst_at: Place, match: Callable[[Place], Test]) -> Test:
        """The source, the destination, either (the default) or both match."""
        if direction == "src":
            return match(src_at)
        if direction == "dst":
            return match(dst_at)
        combine = all_of if direction == "src and dst" else any_of
        return combine(match(src_at), match(dst_at))

    @staticmethod
    def address_match(at: Place, address: ipaddress.IPv4Address | ipaddress.IPv6Address, prefix: int) -> Test:
        """The address at ``at`` has the first ``prefix`` bits of ``address``, compared a word at a time."""
        value = int(address)
        words = address.max_prefixlen // 32
        mask = ((1 << prefix) - 1) << (address.max_prefixlen - prefix)
        checks = []
        for i in range(words):
            shift = 32 * (words - 1 - i)
            word_mask, word = mask >> shift & 0xFFFFFFFF, value >> shift & 0xFFFFFFFF
            if word_mask:
                checks.append(compare(4, at + 4 * i, word, None if word_mask == 0xFFFFFFFF else word_mask))
        return all_of(*checks)

    def ether_host(self, direction: str | None, mac: bytes, column: int) -> Test:
        if not self.link.ethernet:
            raise self.fail(f"MAC addresses need an Ethernet link type, not {self.link.name}", column)

        def match(at: Place) -> Test:
            return all_of(compare(4, at + 2, int.from_bytes(mac[2:], "big")),
                          compare(2, at, int.from_bytes(mac[:2], "big")))
        return self.directed(direction, 6, 0, match)

    def cast(self, node: Cast) -> Test:
        if node.proto == "ip":
            if node.kind == "multicast":
                return all_of(self.ethertype(ETHERTYPE_IPV4), compare(1, self.nl + 16, 224, op=JGE))
            return all_of(self.ethertype(ETHERTYPE_IPV4),
                          any_of(compare(4, self.nl + 16, 0), compare(4, self.nl + 16, 0xFFFFFFFF)))
        if node.proto == "ip6":
            return all_of(self.ethertype(ETHERTYPE_IPV6), compare(1, self.nl + 24, 0xFF))
        if not self.link.ethernet:
            raise self.fail(f"'{node.kind}' alone needs an Ethernet link type, not {self.link.name}", node.column)
        if node.kind == "multicast":
            return compare(1, 0, 1, op=JSET)
        return self.ether_host("dst", b"\xff" * 6, node.column)

    # -- ports and protocols
    def port(self, node: Port) -> Test:
        protos = [{"tcp": TCP, "udp": UDP, "sctp": SCTP}[node.proto]] if node.proto else [TCP, UDP, SCTP]

        def in_range(size: int, at: Place, indexed: bool) -> Test:
            setup = header_length_in_x(self.nl) + (stmt(LD | H | IND, constant_part(at)),) if indexed else load(2, at)
            if node.low == node.high:
                return Check(setup, JEQ, node.low)
            return all_of(Check(setup, JGE, node.low), negate(Check(setup, JGT, node.high)))

        v4 = all_of(self.ethertype(ETHERTYPE_IPV4), any_of(*(
            all_of(compare(1, self.nl + 9, p), self.first_fragment(),
                   self.directed(node.direction, self.nl, self.nl + 2, lambda at: in_range(2, at, True)))
            for p in protos)))
        v6 = all_of(self.ethertype(ETHERTYPE_IPV6), any_of(*(
            all_of(compare(1, self.nl + 6, p),
                   self.directed(node.direction, self.nl + 40, self.nl + 42, lambda at: in_range(2, at, False)))
            for p in protos)))
        return any_of(v4, v6)

    def proto_number(self, node: ProtoNumber) -> Test:
        if node.proto == "ether":
            if node.number <= 1500:
                raise self.fail(f"ether proto {node.number} is an 802.3 length, not an EtherType (use 1536 or more)",
                                node.column)
            return self.ethertype(node.number)
        if node.proto == "ip":
            return self.ip_protocol(node.number)
        if node.proto == "ip6":
            return self.ip6_protocol(node.number)
        return any_of(self.ip_protocol(node.number), self.ip6_protocol(node.number))

    def vlan(self, node: Vlan) -> Test:
        link, vid = self.link, node.vid
        if not link.ethernet or link.ethertype_at is None:
            raise self.fail(f"'vlan' needs an Ethernet link type, not {link.name}", node.column)
        at = link.ethertype_at
        if self.live and not isinstance(at, Offset):
            return self.vlan_in_metadata(at, vid)
        tagged = any_of(*(compare(2, at, tpid) for tpid in VLAN_TPIDS))
        if vid is not None:
            tagged = all_of(tagged, compare(2, at + 2, vid, 0x0FFF))
        link.ethertype_at, link.network_at = at + 4, link.network_at + 4
        return tagged

    def vlan_in_metadata(self, at: int, vid: int | None) -> Test:
        """The first ``vlan`` on a live socket, as libpcap's ``gen_vlan_bpf_extensions``: ``[vlanp]`` is 1,
        or (the offsets moved on by 4 first) the frame holds a tag; the ID from ``[vlan_tci]`` or the frame."""
        present = (stmt(LD | B | ABS, SKF_AD_VLAN_TAG_PRESENT),)
        moved = tuple(i for register in (NETWORK_REGISTER, ETHERTYPE_REGISTER)
                      for i in (stmt(LD | W | MEM, register), stmt(ALU | ADD | K, 4), stmt(ST, register)))
        in_frame = [compare(2, at, tpid) for tpid in VLAN_TPIDS]
        tagged = any_of(Check(present, JEQ, 1), Check(moved + in_frame[0].setup, JEQ, in_frame[0].k), *in_frame[1:])
        if vid is not None:
            # A = the TCI from the metadata when there is a tag there, else from the frame
            tci = present + (Instruction(JMP | JEQ | K, 0, 2, 1), stmt(LD | B | ABS, SKF_AD_VLAN_TAG),
                             stmt(JMP | JA, 1)) + load(2, at + 2) + (stmt(ALU | AND | K, 0x0FFF),)
            tagged = all_of(tagged, Check(tci, JEQ, vid))
        link = self.link
        link.ethertype_at = Offset(ETHERTYPE_REGISTER, at)
        link.network_at = Offset(NETWORK_REGISTER, constant_part(link.network_at))
        return tagged

    # -- relations: arithmetic on packet bytes
    def relation(self, node: Relation) -> Test:
        left, right = Arithmetic(self), Arithmetic(self)
        op = node.op
        if isinstance(node.left, Num) and not isinstance(node.right, Num):   # 5 < x is x > 5
            node = Relation({"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op), node.right, node.left)
            op = node.op
        jump = {"=": JEQ, "!=": JEQ, ">": JGT, "<=": JGT, ">=": JGE, "<": JGE}[op]
        right_value = right.constant(node.right)
        left_value = left.constant(node.left)
        if left_value is not None and right_value is not None:
            holds = {"=": left_value == right_value, "!=": left_value != right_value,
                     ">": left_value > right_value, "<=": left_value <= right_value,
                     ">=": left_value >= right_value, "<": left_value < right_value}[op]
            return TRUE if holds else FALSE
        if right_value is not None:
            check = Check(tuple(left.value(node.left, self.scratch)), jump, right_value)
        else:
            first = self.scratch
            code = (right.value(node.right, first) + [stmt(ST, first)] + left.value(node.left, first + 1)
                    + [stmt(LDX | W | MEM, first)])
            check = Check(tuple(code), jump | X)
        test = negate(check) if op in ("!=", "<=", "<") else check
        return all_of(*left.needs, *right.needs, test)


class Arithmetic:
    """Code that leaves an arithmetic expression's value in A (scratch words from ``depth`` up hold
    partial results), and the tests the packet must pass before its loads mean anything (``tcp[13]``
    needs an unfragmented IPv4 TCP packet)."""

    def __init__(self, lowering: Lowering) -> None:
        self.lowering = lowering
        self.needs: list[Test] = []

    def constant(self, node: Arith) -> int | None:
        """The value of an expression made of numbers only (folded as 32-bit unsigned), else None."""
        if isinstance(node, Num):
            return node.value
        if isinstance(node, Negative):
            inner = self.constant(node.operand)
            return None if inner is None else -inner & 0xFFFFFFFF
        if isinstance(node, Binary):
            left, right = self.constant(node.left), self.constant(node.right)
            if left is None or right is None:
                return None
            self.check_operand(node, right)
            return _fold(node.op, left, right)
        return None

    def check_operand(self, node: Binary, k: int) -> None:
        if node.op in ("/", "%") and k == 0:
            raise self.lowering.fail("division by zero", node.column)
        if node.op in ("<<", ">>") and k > 31:
            raise self.lowering.fail("shift by more than 31 bits", node.column)

    def value(self, node: Arith, depth: int) -> list[Instruction]:
        if depth >= MEMWORDS:
            raise self.lowering.fail("the expression is too deeply nested for BPF's 16 scratch words",
                                     getattr(node, "column", 1))
        folded = self.constant(node)
        if folded is not None:
            return [stmt(LD | W | IMM, folded)]
        if isinstance(node, WireLength):
            return [stmt(LD | W | LEN)]
        if isinstance(node, Negative):
            return self.value(node.operand, depth) + [stmt(ALU | NEG)]
        if isinstance(node, Binary):
            op = _ALU_OPS[node.op]
            k = self.constant(node.right)
            if k is not None:
                self.check_operand(node, k)
                return self.value(node.left, depth) + [stmt(ALU | op | K, k)]
            return (self.value(node.right, depth) + [stmt(ST, depth)] + self.value(node.left, depth + 1)
                    + [stmt(LDX | W | MEM, depth), stmt(ALU | op | X)])
        assert isinstance(node, Load)
        return self.load(node, depth)

    def load(self, node: Load, depth: int) -> list[Instruction]:
        """``proto[index:size]``, with libpcap's conditions for ``proto`` (gencode.c, gen_load)."""
        low = self.lowering
        nl = low.nl
        size = SIZE_CODES[node.size]
        index = self.constant(node.index)
        transport = node.proto in ("tcp", "udp", "sctp", "icmp", "igmp")
        base: Place
        if node.proto == "ether":
            base = 0
        elif node.proto in ("ip", "ip6", "arp", "rarp"):
            base = nl
            self.needs.append(low.protocol(node.proto))
        elif node.proto == "icmp6":
            base = nl + 40
            self.needs.append(all_of(low.ethertype(ETHERTYPE_IPV6), compare(1, nl + 6, ICMPV6)))
        else:
            base = nl
            self.needs.append(all_of(low.protocol(node.proto), low.first_fragment(), low.ethertype(ETHERTYPE_IPV4)))
        at = constant_part(base)
        if transport:
            if index is not None:
                return [*header_length_in_x(nl), stmt(LD | size | IND, at + index)]
            if isinstance(nl, Offset):                # the index kept in M[depth] while X is computed
                return self.value(node.index, depth) + [stmt(ST, depth), *header_length_in_x(nl),
                                                        stmt(LD | W | MEM, depth), stmt(ALU | ADD | X),
                                                        stmt(MISC | TAX), stmt(LD | size | IND, at)]
            return self.value(node.index, depth) + [stmt(LDX | B | MSH, nl), stmt(ALU | ADD | X), stmt(MISC | TAX),
                                                    stmt(LD | size | IND, at)]
        if index is not None:
            return list(load(node.size, base + index))
        variable = [stmt(LDX | W | MEM, base.register), stmt(ALU | ADD | X)] if isinstance(base, Offset) else []
        return self.value(node.index, depth) + variable + [stmt(MISC | TAX), stmt(LD | size | IND, at)]


_ALU_OPS = {"+": ADD, "-": SUB, "*": MUL, "/": DIV, "%": MOD, "&": AND, "|": OR, "^": XOR, "<<": LSH, ">>": RSH}


def _fold(op: str, a: int, b: int) -> int:
    results = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a // b,
               "%": lambda: a % b, "&": lambda: a & b, "|": lambda: a | b, "^": lambda: a ^ b,
               "<<": lambda: a << b, ">>": lambda: a >> b}
    return results[op]() & 0xFFFFFFFF


# --- code generation ---------------------------------------------------------------------------------

@dataclass
class _Jump:
    """A jump whose targets are still labels: conditional (``code``, ``k``, true, false) or ``ja`` (true only)."""

    code: int
    k: int
    true: int
    false: int = -1


class CodeGenerator:
    """Lays tests out with labels, then resolves the labels into BPF's forward jump offsets."""

    def __init__(self) -> None:
        self.items: list[Instruction | _Jump | int] = []      # an int is a label's place
        self.labels = itertools.count()

    def emit(self, test: Test, true: int, false: int) -> None:
        if isinstance(test, Check):
            self.items.extend(test.setup)
            self.items.append(_Jump(JMP | test.op, test.k, true, false))
        elif isinstance(test, Negate):
            self.emit(test.part, false, true)
        elif not test.parts:                                  # TRUE or FALSE
            self.items.append(_Jump(JMP | JA, 0, true if isinstance(test, All) else false))
        else:
            for part in test.parts[:-1]:
                following = next(self.labels)
                if isinstance(test, All):
                    self.emit(part, following, false)
                else:
                    self.emit(part, true, following)
                self.items.append(following)
            self.emit(test.parts[-1], true, false)

    def program(self, test: Test, snaplen: int, prologue: tuple[Instruction, ...] = ()) -> list[Instruction]:
        """The whole program: the ``prologue``, the test, then ``ret #snaplen`` (accept) and ``ret #0`` (drop)."""
        if test in (TRUE, FALSE):
            return [stmt(RET | K, snaplen if test == TRUE else 0)]
        accept, drop = next(self.labels), next(self.labels)
        self.items.extend(prologue)
        self.emit(test, accept, drop)
        self.items += [accept, stmt(RET | K, snaplen), drop, stmt(RET | K, 0)]
        return self.resolve()

    def resolve(self) -> list[Instruction]:
        """Replace labels by offsets; a conditional jump more than 255 instructions short of its target
        jumps to a ``ja`` put right after it instead (repeated until every offset fits)."""
        while True:
            where: dict[int, int] = {}
            position = 0
            for item in self.items:
                if isinstance(item, int):
                    where[item] = position
                else:
                    position += 1
            out: list[Instruction] = []
            far: list[tuple[int, _Jump]] = []
            for i, item in enumerate(self.items):
                if isinstance(item, int):
                    continue
                if isinstance(item, Instruction):
                    out.append(item)
                    continue
                here = len(out) + 1
                if item.code == JMP | JA:
                    out.append(stmt(JMP | JA, where[item.true] - here))
                    continue
                jt, jf = where[item.true] - here, where[item.false] - here
                if jt > 255 or jf > 255:
                    far.append((i, item))
                out.append(Instruction(item.code, jt, jf, item.k))
            if not far:
                return out
            for i, item in reversed(far):
                trampolines: list[Instruction | _Jump | int] = []
                for side in ("true", "false"):
                    target = getattr(item, side)
                    if where[target] - (sum(1 for x in self.items[:i] if not isinstance(x, int)) + 1) > 255:
                        label = next(self.labels)
                        trampolines += [label, _Jump(JMP | JA, 0, target)]
                        setattr(item, side, label)
                self.items[i + 1:i + 1] = trampolines


def has_vlan(node: Node) -> bool:
    if isinstance(node, (And, Or)):
        return has_vlan(node.left) or has_vlan(node.right)
    if isinstance(node, Not):
        return has_vlan(node.child)
    return isinstance(node, Vlan)


def compile_filter(expression: str, linktype: int = 1, snaplen: int = 262144, live: bool = False,
                   optimize: bool = True) -> BpfProgram:
    """Compile a tcpdump filter expression (pcap-filter(7)) into a classic BPF program for frames of
    ``linktype`` (a LINKTYPE_ number: 1 Ethernet, 113 Linux cooked, 276 Linux cooked v2, 101 raw IP,
    228 raw IPv4, 229 raw IPv6, 0 BSD loopback) that keeps ``snaplen`` bytes of each accepted packet.
    ``live``: for a Linux packet socket, where ``vlan`` reads the tag the kernel took out of the frame
    (``tcpdump -d -i IFACE``); else for frames that hold their tags, as a file's (``tcpdump -d -r FILE``).
    The empty expression accepts everything. A :class:`FilterError` points at what is wrong.
    ``optimize=False`` gives the program as generated, before :mod:`netstudy.wire.bpf.optimize` shortens it."""
    if not 0 < snaplen <= 0xFFFFFFFF:
        raise FilterError(f"the snap length must be from 1 to {0xFFFFFFFF}, not {snaplen}", expression, 1)
    tree = parse(expression)
    lowering = Lowering(expression, linktype, live)
    if live and tree is not None and has_vlan(tree):
        lowering.reserve_variable_offsets()
    test = TRUE if tree is None else lowering.lower(tree)
    instructions = CodeGenerator().program(test, snaplen, lowering.prologue)
    if optimize:
        instructions = optimize_program(instructions)
    if len(instructions) > 4096:
        raise FilterError(f"the program has {len(instructions)} instructions, more than the kernel's 4096",
                          expression, 1)
    return BpfProgram(tuple(instructions), expression, linktype, snaplen, live)
