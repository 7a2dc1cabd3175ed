"""tcpdump's filter language (pcap-filter(7)) parsed into a small syntax tree, by recursive descent.

Grammar, as libpcap's grammar.y reads it: ``not`` binds tightest; ``and`` and ``or`` have *equal*
precedence and group from the left (``a or b and c`` is ``(a or b) and c``). A primitive is
``[proto] [dir] [type] id`` (``tcp dst port 80``), a protocol alone (``tcp``), ``vlan [id]``,
``less``/``greater N``, ``[ether|ip|ip6] broadcast|multicast``, ``[ip|ip6|ether] proto N``, or a relation
between two arithmetic expressions (``tcp[tcpflags] & tcp-syn != 0``). A bare id after ``and``/``or``/``not``
takes the qualifiers of the primitive before it: ``host a or b`` is ``host a or host b``.

Every error is a :class:`FilterError` that names the offending token and its column.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from netstudy.errors import InputError


class FilterError(InputError):
    """A filter expression that does not compile; the message shows the expression and the column of the
    offending token (``.column``, 1-based), and :meth:`pointer` draws a caret under it."""

    def __init__(self, reason: str, expression: str, column: int) -> None:
        self.reason, self.expression, self.column = reason, expression, column
        super().__init__(f"filter: {reason} at column {column}: {expression}")

    def pointer(self) -> str:
        """The expression with a caret under the offending token, for a notebook or a terminal."""
        return f"{self.expression}\n{' ' * (self.column - 1)}^ {self.reason}"


# --- the syntax tree ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True)
class Or:
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class Protocol:
    """A protocol alone: ``ip``, ``ip6``, ``arp``, ``rarp``, ``tcp``, ``udp``, ``sctp``, ``icmp``, ``icmp6``,
    ``igmp``."""

    name: str


@dataclass(frozen=True)
class Host:
    """``[ether|ip|ip6|arp|rarp] [src|dst] host|net ADDRESS``: an address (``prefix`` bits of it for a net);
    ``address`` is an ``ipaddress`` address, or 6 bytes of MAC for ``ether``."""

    proto: str | None
    direction: str | None                 # None, "src", "dst", "src or dst", "src and dst"
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | bytes
    prefix: int
    column: int = field(default=0, compare=False)      # of the token, for errors found later


@dataclass(frozen=True)
class Port:
    """``[tcp|udp|sctp] [src|dst] port N`` or ``portrange LOW-HIGH`` (a port is a range of one)."""

    proto: str | None
    direction: str | None
    low: int
    high: int


@dataclass(frozen=True)
class ProtoNumber:
    """``[ip|ip6|ether] proto N``: the IP protocol (or next header), or the EtherType for ``ether``."""

    proto: str | None
    number: int
    column: int = field(default=0, compare=False)      # of the token, for errors found later


@dataclass(frozen=True)
class Cast:
    """``[ether|ip|ip6] broadcast|multicast``."""

    proto: str | None
    kind: str
    column: int = field(default=0, compare=False)      # of the token, for errors found later


@dataclass(frozen=True)
class Vlan:
    """``vlan [ID]``: an 802.1Q/802.1ad tag (with that VLAN id); what follows is read after the tag."""

    vid: int | None
    column: int = field(default=0, compare=False)      # of the token, for errors found later


@dataclass(frozen=True)
class Length:
    """``less N`` (length <= N) or ``greater N`` (length >= N): the packet's length on the wire."""

    op: str
    value: int


@dataclass(frozen=True)
class Num:
    value: int


@dataclass(frozen=True)
class WireLength:
    """``len``: the packet's length on the wire."""


@dataclass(frozen=True)
class Load:
    """``proto[index : size]``: ``size`` bytes (1, 2 or 4) at ``index`` from the start of ``proto``'s header."""

    proto: str
    index: Arith
    size: int


@dataclass(frozen=True)
class Binary:
    op: str
    left: Arith
    right: Arith
    column: int = field(default=0, compare=False)      # of the token, for errors found later


@dataclass(frozen=True)
class Negative:
    operand: Arith


@dataclass(frozen=True)
class Relation:
    """``arith OP arith`` with OP one of ``= != < <= > >=``."""

    op: str
    left: Arith
    right: Arith


Arith = Num | WireLength | Load | Binary | Negative
Node = And | Or | Not | Protocol | Host | Port | ProtoNumber | Cast | Vlan | Length | Relation


# --- words ------------------------------------------------------------------------------------------

PROTOCOLS = ("ether", "link", "ip", "ip6", "arp", "rarp", "tcp", "udp", "sctp", "icmp", "icmp6", "igmp")
DIRECTIONS = ("src", "dst")
TYPES = ("host", "net", "port", "portrange")
KEYWORDS = frozenset(PROTOCOLS + DIRECTIONS + TYPES + (
    "and", "or", "not", "proto", "vlan", "less", "greater", "len", "broadcast", "multicast", "mask", "gateway"))
# Named constants of the relation language (pcap-filter(7), "expr relop expr")
CONSTANTS = {
    "icmptype": 0, "icmpcode": 1, "icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4,
    "icmp-redirect": 5, "icmp-echo": 8, "icmp-routeradvert": 9, "icmp-routersolicit": 10, "icmp-timxceed": 11,
    "icmp-paramprob": 12, "icmp-tstamp": 13, "icmp-tstampreply": 14, "icmp-ireq": 15, "icmp-ireqreply": 16,
    "icmp-maskreq": 17, "icmp-maskreply": 18,
    "icmp6type": 0, "icmp6code": 1, "icmp6-destinationunreach": 1, "icmp6-packettoobig": 2,
    "icmp6-timeexceeded": 3, "icmp6-parameterproblem": 4, "icmp6-echo": 128, "icmp6-echoreply": 129,
    "icmp6-routersolicit": 133, "icmp6-routeradvert": 134, "icmp6-neighborsolicit": 135,
    "icmp6-neighboradvert": 136, "icmp6-redirect": 137,
    "tcpflags": 13, "tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04, "tcp-push": 0x08, "tcp-ack": 0x10,
    "tcp-urg": 0x20, "tcp-ece": 0x40, "tcp-cwr": 0x80,
}
# Port names of /etc/services that tcpdump also accepts, the same number for TCP and UDP
PORT_NAMES = {"ftp-data": 20, "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "bootps": 67,
              "bootpc": 68, "tftp": 69, "http": 80, "pop3": 110, "ntp": 123, "imap": 143, "snmp": 161,
              "https": 443, "syslog": 514, "mdns": 5353}
# Names after a backslash (``proto \tcp``, ``ether proto \ip``): IP protocol and EtherType numbers
IP_PROTOCOL_NUMBERS = {"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51,
                       "icmp6": 58, "pim": 103, "vrrp": 112, "sctp": 132}
ETHERTYPE_NUMBERS = {"ip": 0x0800, "arp": 0x0806, "rarp": 0x8035, "ip6": 0x86DD}

_SPACE = re.compile(r"\s+")
_OPERATOR = re.compile(r"&&|\|\||<<|>>|<=|>=|==|!=|[][()!&|^+\-*/%<>=:]")
_WORD = re.compile(r"\\?[A-Za-z0-9_.:][A-Za-z0-9_.:\-]*")
_WORD_IN_BRACKETS = re.compile(r"\\?[A-Za-z0-9_.][A-Za-z0-9_.\-]*")    # ':' separates the size: [i:n]


@dataclass(frozen=True)
class Token:
    kind: str            # "word", "op", "end"
    text: str
    column: int          # 1-based


def tokenize(expression: str) -> list[Token]:
    """The expression's words and operators; a word may hold ``.``, ``:`` and ``-`` (addresses, MACs,
    ``tcp-syn``, ``1000-2000``), except ``:`` inside brackets (``tcp[13:2]``)."""
    tokens, pos, depth = [], 0, 0
    while pos < len(expression):
        space = _SPACE.match(expression, pos)
        if space:
            pos = space.end()
            continue
        word = (_WORD_IN_BRACKETS if depth else _WORD).match(expression, pos)
        match = word or _OPERATOR.match(expression, pos)
        if match is None:
            raise FilterError(f"unexpected character {expression[pos]!r}", expression, pos + 1)
        text = match.group()
        tokens.append(Token("word" if word else "op", text, pos + 1))
        depth += {"[": 1, "]": -1}.get(text, 0) if not word else 0
        pos = match.end()
    tokens.append(Token("end", "", len(expression) + 1))
    return tokens


def number(text: str) -> int | None:
    """A number as libpcap reads one: ``0x`` hex, a leading ``0`` octal, else decimal; None if not one."""
    for pattern, base in ((r"0[xX][0-9a-fA-F]+", 16), (r"0[0-7]+", 8), (r"[0-9]+", 10)):
        if re.fullmatch(pattern, text):
            return int(text, base)
    return None


@dataclass(frozen=True)
class _Qualifiers:
    proto: str | None = None
    direction: str | None = None
    kind: str | None = None


_RELOPS = {"=": "=", "==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_LEVELS = (("|", "^"), ("&",), ("<<", ">>"), ("+", "-"), ("*", "/", "%"))   # loosest first (grammar.y)


class Parser:
    """Recursive descent over :func:`tokenize`'s tokens; :meth:`parse` returns the tree (None when empty)."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = tokenize(expression)
        self.pos = 0
        self.last = _Qualifiers()

    # -- helpers
    @property
    def token(self) -> Token:
        return self.tokens[self.pos]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        if token.kind != "end":                  # the end stays the current token, however often asked
            self.pos += 1
        return token

    def error(self, reason: str, token: Token | None = None) -> FilterError:
        token = token or self.token
        shown = f"{reason}, but the filter ends there" if token.kind == "end" else reason
        return FilterError(shown, self.expression, token.column)

    def is_word(self, *words: str) -> bool:
        return self.token.kind == "word" and self.token.text in words

    def is_op(self, *ops: str) -> bool:
        return self.token.kind == "op" and self.token.text in ops

    def is_value(self, token: Token | None = None) -> bool:
        token = token or self.token
        return token.kind == "word" and token.text not in KEYWORDS and not token.text.startswith("\\")

    # -- boolean structure
    def parse(self) -> Node | None:
        if self.token.kind == "end":
            return None
        node = self.expr()
        if self.token.kind != "end":
            raise self.error("expected 'and', 'or' or the end of the filter")
        return node

    def expr(self) -> Node:
        node = self.term()
        while self.is_word("and", "or") or self.is_op("&&", "||"):
            joiner = And if self.advance().text in ("and", "&&") else Or
            node = joiner(node, self.term())
        return node

    def term(self) -> Node:
        if self.is_word("not") or self.is_op("!"):
            self.advance()
            return Not(self.term())
        if self.is_word("len") or self.is_op("-") or self.is_word(*PROTOCOLS) and self.peek().text == "[":
            return self.relation()
        start = self.pos
        try:
            return self.relation()
        except FilterError as relation_error:
            self.pos = start
            try:
                return self.primitive()
            except FilterError as primitive_error:     # the one that read further says what went wrong
                raise max(primitive_error, relation_error, key=lambda e: e.column) from None

    def relation(self) -> Relation:
        left = self.arith()
        if not (self.token.kind == "op" and self.token.text in _RELOPS):
            raise self.error("expected a comparison (=, !=, <, <=, >, >=)")
        op = _RELOPS[self.advance().text]
        return Relation(op, left, self.arith())

    # -- arithmetic (relations only)
    def arith(self, level: int = 0) -> Arith:
        if level == len(_LEVELS):
            return self.unary()
        node = self.arith(level + 1)
        while self.token.kind == "op" and self.token.text in _LEVELS[level]:
            op = self.advance()
            node = Binary(op.text, node, self.arith(level + 1), op.column)
        return node

    def unary(self) -> Arith:
        token = self.token
        if self.is_op("-"):
            self.advance()
            return Negative(self.unary())
        if self.is_op("("):
            self.advance()
            node = self.arith()
            self.expect(")", "expected ')'")
            return node
        if self.is_word("len"):
            self.advance()
            return WireLength()
        if token.kind == "word" and token.text in PROTOCOLS and self.peek().text == "[":
            self.pos += 2
            index = self.arith()
            size = 1
            if self.is_op(":"):
                self.advance()
                size_token = self.advance()
                size = number(size_token.text) if size_token.kind == "word" else None   # type: ignore[assignment]
                if size not in (1, 2, 4):
                    raise self.error("the size after ':' must be 1, 2 or 4", size_token)
            self.expect("]", "expected ']'")
            return Load(token.text, index, size)
        if token.kind == "word":
            value = CONSTANTS.get(token.text)
            if value is None:
                value = number(token.text)
            if value is not None:
                if value > 0xFFFFFFFF:
                    raise self.error("a number must fit in 32 bits")
                self.advance()
                return Num(value)
        raise self.error("expected a number, 'len' or a packet access like 'tcp[13]'")

    def expect(self, op: str, reason: str) -> None:
        if not self.is_op(op):
            raise self.error(reason)
        self.advance()

    # -- primitives
    def primitive(self) -> Node:
        if self.is_op("("):
            self.advance()
            node = self.expr()
            self.expect(")", "expected ')' to close the '(' ")
            return node
        if self.is_word("vlan"):
            keyword = self.advance()
            if self.is_value() and number(self.token.text) is not None:
                return Vlan(self.bounded(self.advance(), "a VLAN id", 4095), keyword.column)
            return Vlan(None, keyword.column)
        if self.is_word("less", "greater"):
            op = self.advance().text
            return Length(op, self.bounded(self.take_value(f"a length after '{op}'"), "a length", 0xFFFFFFFF))
        if self.is_value():                                      # a bare id: the previous qualifiers
            return self.identified(self.last, self.advance())
        proto = None
        if self.token.kind == "word" and self.token.text in PROTOCOLS:
            proto = self.advance().text
            proto = "ether" if proto == "link" else proto
        if self.is_word("proto"):
            return self.proto_number(proto)
        if self.is_word("broadcast", "multicast"):
            return self.cast(proto)
        direction = self.direction()
        kind = self.advance().text if self.is_word(*TYPES) else None
        if proto is not None and direction is None and kind is None and not self.is_value():
            if proto == "ether":
                raise self.error("expected 'host', 'src', 'dst', 'proto', 'broadcast' or 'multicast' after 'ether'")
            return Protocol(proto)
        if proto is None and direction is None and kind is None:
            raise self.error("expected a primitive (tcp, udp, ip, host, net, port, ...)")
        qualifiers = _Qualifiers(proto, direction, kind)
        before = self.tokens[self.pos - 1]
        token = self.take_value(f"expected {_WANTED[kind or 'host']} after '{before.text}'")
        self.last = qualifiers
        return self.identified(qualifiers, token)

    def take_value(self, reason: str) -> Token:
        if not self.is_value():
            raise self.error(reason if reason.startswith("expected") else f"expected {reason}")
        return self.advance()

    def direction(self) -> str | None:
        if not self.is_word(*DIRECTIONS):
            return None
        first = self.advance().text
        if self.is_word("or", "and") and self.peek().text in DIRECTIONS and self.peek().text != first:
            joiner = self.advance().text
            self.advance()
            return f"src {joiner} dst"
        return first

    def proto_number(self, proto: str | None) -> ProtoNumber:
        keyword = self.advance()
        if proto not in (None, "ip", "ip6", "ether"):
            raise self.error(f"'{proto}' cannot qualify 'proto' (use ip, ip6 or ether)", keyword)
        token = self.token
        names = ETHERTYPE_NUMBERS if proto == "ether" else IP_PROTOCOL_NUMBERS
        if token.kind == "word" and token.text.startswith("\\") and token.text[1:] in names:
            self.advance()
            return ProtoNumber(proto, names[token.text[1:]], token.column)
        if token.kind != "word" or number(token.text) is None:
            raise self.error("expected a protocol number (or a name escaped like \\tcp) after 'proto'")
        self.advance()
        return ProtoNumber(proto, self.bounded(token, "an EtherType" if proto == "ether" else "a protocol number",
                                               0xFFFF if proto == "ether" else 255), token.column)

    def cast(self, proto: str | None) -> Cast:
        kind = self.advance()
        if proto not in (None, "ether", "ip", "ip6") or (proto == "ip6" and kind.text == "broadcast"):
            raise self.error(f"'{proto}' cannot qualify '{kind.text}'", kind)
        return Cast(proto, kind.text, kind.column)

    def bounded(self, token: Token, what: str, high: int) -> int:
        value = number(token.text)
        if value is None:
            raise self.error(f"expected {what}", token)
        if value > high:
            raise FilterError(f"{what} must be from 0 to {high}, not {token.text}", self.expression, token.column)
        return value

    def identified(self, q: _Qualifiers, token: Token) -> Node:
        """The primitive that qualifiers ``q`` and the id ``token`` make (``tcp dst port`` + ``80``)."""
        kind = q.kind or "host"
        if kind in ("port", "portrange"):
            if q.proto not in (None, "tcp", "udp", "sctp"):
                raise FilterError(f"'{q.proto}' cannot qualify '{kind}' (use tcp, udp or sctp)",
                                  self.expression, token.column)
            low, high = self.port_range(token) if kind == "portrange" else (self.port(token),) * 2
            return Port(q.proto, q.direction, low, high)
        if q.proto not in (None, "ether", "ip", "ip6", "arp", "rarp"):
            raise FilterError(f"'{q.proto}' cannot qualify '{kind}'", self.expression, token.column)
        if q.proto == "ether":
            if kind != "host":
                raise FilterError(f"'ether' cannot qualify '{kind}'", self.expression, token.column)
            return Host("ether", q.direction, self.mac(token), 48, token.column)
        address, prefix = self.network(token) if kind == "net" else (self.address(token), None)
        if prefix is None:
            prefix = address.max_prefixlen
        if (address.version == 6) != (q.proto == "ip6") and q.proto is not None:
            raise FilterError(f"'{q.proto}' cannot match the IPv{address.version} address {token.text}",
                              self.expression, token.column)
        return Host(q.proto, q.direction, address, prefix, token.column)

    def address(self, token: Token) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        text = token.text
        if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", text) or ":" in text:
            try:
                return ipaddress.ip_address(text)
            except ValueError:
                pass
        reason = f"'{text}' is not an IPv4 or IPv6 address"
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9.\-]*", text):
            reason += " (host names are not looked up: give an address)"
        elif _MAC.fullmatch(text):
            reason += " (a MAC address needs 'ether host')"
        raise FilterError(reason, self.expression, token.column)

    def network(self, token: Token) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
        """``net`` A.B.C.D[/len], A[.B[.C]] (a prefix of 8, 16, 24 bits), ``A mask M``, or an IPv6 prefix."""
        text = token.text
        if ":" in text:
            address: ipaddress.IPv4Address | ipaddress.IPv6Address = self.address(token)
            prefix = 128
        elif re.fullmatch(r"\d+(\.\d+){0,3}", text) and all(int(p) < 256 for p in text.split(".")):
            parts = text.split(".")
            address = ipaddress.IPv4Address(".".join(parts + ["0"] * (4 - len(parts))))
            prefix = 8 * len(parts)
        else:
            raise FilterError(f"'{text}' is not an IPv4 or IPv6 network", self.expression, token.column)
        if self.is_op("/"):
            self.advance()
            length = self.take_value("a prefix length after '/'")
            prefix = self.bounded(length, "a prefix length", address.max_prefixlen)
        elif self.is_word("mask") and address.version == 4:
            self.advance()
            mask_token = self.take_value("a netmask after 'mask'")
            try:
                prefix = ipaddress.IPv4Network(f"0.0.0.0/{mask_token.text}").prefixlen
            except ValueError:
                raise FilterError(f"'{mask_token.text}' is not a netmask", self.expression,
                                  mask_token.column) from None
        host_bits = int(address) & ((1 << (address.max_prefixlen - prefix)) - 1)
        if host_bits:
            raise FilterError(f"non-network bits set in '{text}/{prefix}'", self.expression, token.column)
        return address, prefix

    def mac(self, token: Token) -> bytes:
        match = _MAC.fullmatch(token.text)
        if match is None:
            raise FilterError(f"'{token.text}' is not a MAC address (like 00:11:22:33:44:55)",
                              self.expression, token.column)
        return bytes(int(part, 16) for part in re.split(r"[:\-]", token.text))

    def port(self, token: Token) -> int:
        value = PORT_NAMES.get(token.text, number(token.text))
        if value is None:
            raise FilterError("expected a port number after 'port'", self.expression, token.column)
        if value > 0xFFFF:
            raise FilterError(f"a port must be from 0 to 65535, not {token.text}", self.expression, token.column)
        return value

    def port_range(self, token: Token) -> tuple[int, int]:
        low, dash, high = token.text.partition("-")
        first, last = number(low), number(high)
        if not dash or first is None or last is None:
            raise FilterError("expected a port range like 1000-2000 after 'portrange'", self.expression,
                              token.column)
        if max(first, last) > 0xFFFF:
            raise FilterError(f"a port must be from 0 to 65535, not {token.text}", self.expression, token.column)
        return min(first, last), max(first, last)


_MAC = re.compile(r"[0-9A-Fa-f]{1,2}([:\-])[0-9A-Fa-f]{1,2}(\1[0-9A-Fa-f]{1,2}){4}")
_WANTED = {"host": "an address", "net": "a network", "port": "a port number", "portrange": "a port range"}


def parse(expression: str) -> Node | None:
    """The syntax tree of a filter expression (None for the empty expression, which accepts everything)."""
    return Parser(expression).parse()
