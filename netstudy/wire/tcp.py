"""TCP (RFC 9293): the segment header, its flags and options, and the checksum over a pseudo-header."""
from __future__ import annotations

import struct

from netstudy.errors import DecodeError
from netstudy.wire.checksum import internet_checksum, ones_complement_sum, segment_status
from netstudy.wire.fields import CutHeader, Field, Header, Span, reads_bytes
from netstudy.wire.numbers import IP_PROTOCOL_NEXT, TCP_PORT_NEXT, register
from netstudy.wire.options import Option, OptionSpec, OptionTable

PROTOCOL = 6
_skim = struct.Struct("!HH8xB").unpack_from      # what decoding reads: ports, data offset

TCP_OPTIONS = OptionTable("TCP", [
    OptionSpec(0, "eol", "", "end of option list (RFC 9293 §3.2)"),
    OptionSpec(1, "nop", "", "no-operation, aligns the next option (RFC 9293 §3.2)"),
    OptionSpec(2, "mss", "H", "maximum segment size the sender can receive (RFC 9293 §3.7.1)"),
    OptionSpec(3, "wscale", "B", "window scale: shift the window left this many bits (RFC 7323 §2)"),
    OptionSpec(4, "sackOK", "", "selective acknowledgments permitted (RFC 2018 §2)"),
    OptionSpec(5, "sack", "*II", "selective acknowledgment blocks: left and right edges (RFC 2018 §3)"),
    OptionSpec(8, "TS", "II", "timestamps: value and echo reply (RFC 7323 §3)",
               "TS val {0} ecr {1}"),
    OptionSpec(20, "scps", "BB", "SCPS capabilities (CCSDS 714.0-B-2)", "scps cap {0:02x} id {1}"),
    OptionSpec(30, "mptcp", None, "multipath TCP (RFC 8684 §3)"),
    OptionSpec(34, "tfo", None, "TCP fast open cookie (RFC 7413 §4.1.1)",
               show=lambda data: "tfo" + _fast_open_text(data)),
    OptionSpec(254, "exp", None, "experimental, told apart by a 16-bit magic number (RFC 6994)",
               show=lambda data: _experimental_text(data)),
], unknown_name="unknown-{kind}")


def _fast_open_text(cookie: bytes) -> str:
    """What tcpdump writes after a fast open option's name: a request, or the cookie (RFC 7413 §4.1.1)."""
    if not cookie:
        return " cookiereq"
    if len(cookie) % 2 or not 4 <= len(cookie) <= 16:
        return " invalid"
    return f" cookie {cookie.hex()}"


def _experimental_text(data: bytes) -> str:
    """An experimental option as tcpdump writes it: ``exp-`` and its magic number (RFC 6994 §3), fast
    open's (0xf989) as the fast open option it stands for."""
    magic = int.from_bytes(data[:2], "big")
    if magic == 0xF989:
        return "exp-tfo" + _fast_open_text(data[2:])
    return f"exp-{magic:04x}"

# tcpdump's letters, lowest bit first: F S R P . U E W e
FLAG_LETTERS = (("fin", "F"), ("syn", "S"), ("rst", "R"), ("psh", "P"), ("ack", "."), ("urg", "U"),
                ("ece", "E"), ("cwr", "W"), ("ae", "e"))


# every combination of the 9 flag bits, spelled once: decoding then looks the string up
FLAG_STRINGS = tuple("".join(letter for i, (_, letter) in enumerate(FLAG_LETTERS) if bits >> i & 1) or "none"
                     for bits in range(512))


def tcp_option(name: str, *value: int | tuple[int, int]) -> Option:
    """A TCP option by name: ``tcp_option('mss', 1460)``, ``tcp_option('TS', 1, 0)``, ``tcp_option('nop')``."""
    return TCP_OPTIONS.make(name, *value)


class TCP(Header):
    """The TCP header (RFC 9293 §3.1): 20 bytes, then up to 40 bytes of options."""

    NAME = "TCP"
    LAYER = "transport"
    ROW = (("sport", "sport"), ("dport", "dport"), ("tcp_flags", "flags"))
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    sport: int
    dport: int
    seq: int
    ack: int
    data_offset: int
    reserved: int
    ae: bool
    cwr: bool
    ece: bool
    urg: bool
    ack_flag: bool
    psh: bool
    rst: bool
    syn: bool
    fin: bool
    window: int
    checksum: int
    urgent_pointer: int
    FIELDS = (
        Field("sport", 16, "source port (RFC 9293 §3.1)"),
        Field("dport", 16, "destination port (RFC 9293 §3.1)"),
        Field("seq", 32, "sequence number of the first data byte, or the ISN when SYN (RFC 9293 §3.1)"),
        Field("ack", 32, "next sequence number expected, when ACK is set (RFC 9293 §3.1)"),
        Field("data_offset", 4, "header length in 32-bit words, 5 without options (RFC 9293 §3.1)",
              default=None, auto=True),
        Field("reserved", 3, "reserved, must be zero (RFC 9293 §3.1)"),
        Field("ae", 1, "accurate ECN (RFC 9768), once the nonce sum NS (RFC 3540)", "flag"),
        Field("cwr", 1, "congestion window reduced (RFC 3168 §6.1)", "flag"),
        Field("ece", 1, "ECN echo (RFC 3168 §6.1)", "flag"),
        Field("urg", 1, "urgent pointer is significant (RFC 9293 §3.1)", "flag"),
        Field("ack_flag", 1, "acknowledgment number is significant (RFC 9293 §3.1)", "flag"),
        Field("psh", 1, "push: deliver to the application now (RFC 9293 §3.1)", "flag"),
        Field("rst", 1, "reset the connection (RFC 9293 §3.1)", "flag"),
        Field("syn", 1, "synchronize sequence numbers: opening (RFC 9293 §3.1)", "flag"),
        Field("fin", 1, "no more data from sender: closing (RFC 9293 §3.1)", "flag"),
        Field("window", 16, "bytes the sender can receive, before scaling (RFC 9293 §3.1, RFC 7323)",
              default=65535),
        Field("checksum", 16, "Internet checksum of pseudo-header, header and data (RFC 9293 §3.1)", "hex",
              None, auto=True),
        Field("urgent_pointer", 16, "offset of the end of urgent data, when URG (RFC 9293 §3.1)"),
    )

    _EXTRAS = frozenset({"options"})

    def __init__(self, **values) -> None:
        flags = values.pop("flags", None)
        super().__init__(**values)
        if flags is not None:
            self.flags = flags

    @classmethod
    def _locate(cls, data: bytes, off: int, end: int) -> Span:
        if end - off < 20:
            raise cls._short(off, end)
        sport, dport, offset_byte = _skim(data, off)
        hlen = (offset_byte >> 4) * 4
        if hlen < 20:
            raise cls._fail("data_offset", off, f"data offset {hlen // 4} words is less than the minimum 5")
        if off + hlen > end:                    # options cut by the snap length: the fixed part kept
            raise CutHeader(cls.NAME, "data_offset", off + 12, f"header of {hlen} bytes runs past the {end - off} "
                            "bytes left", (cls, off, end, None, off + hlen, end))
        if end == off + hlen:                   # an application header only where there is a payload
            return cls, off, end, None, off + hlen, end
        return cls, off, end, TCP_PORT_NEXT[dport] or TCP_PORT_NEXT[sport], off + hlen, end

    # -- flags, the way people write them --
    @property
    @reads_bytes("_tcp_flags[({data}[{off} + 12] & 1) << 8 | {data}[{off} + 13]]", _tcp_flags=FLAG_STRINGS)
    def flags(self) -> str:
        """The flags as tcpdump prints them: ``S``, ``S.``, ``P.``, ``F.``, ``R``, ``.`` (ACK alone)."""
        return FLAG_STRINGS[(self._v[4] & 1) << 8 | self._v[5]]

    @flags.setter
    def flags(self, letters: str) -> None:
        known = {letter: name for name, letter in FLAG_LETTERS}
        for name, letter in FLAG_LETTERS:
            setattr(self, "ack_flag" if name == "ack" else name, letter in letters)
        unknown = set(letters) - set(known)
        if unknown:
            from netstudy.errors import BuildError
            raise BuildError(f"TCP flags: unknown letter(s) {''.join(sorted(unknown))}; use {''.join(known)}")

    @property
    def flag_bits(self) -> int:
        """The 9 flag bits as one number (tshark's ``tcp.flags``)."""
        return (self._v[4] & 1) << 8 | self._v[5]

    # -- options --
    @property
    def options(self) -> list[Option]:
        """The options; of a header cut by the snap length, those captured whole."""
        raw = self.options_raw
        cut = self._build is None and 20 + len(raw) < self.header_length
        return TCP_OPTIONS.parse(raw, self._off + 20, cut)

    def _pack_options(self, options: list[Option]) -> bytes:
        return TCP_OPTIONS.pack(options)

    def option(self, name: str) -> Option | None:
        """The first option of this name (``'mss'``, ``'wscale'``, ``'TS'``...), or None."""
        return next((o for o in self.options if o.name == name), None)

    # -- building and checking --
    def fill(self, payload: bytes, under: Header | None, over: Header | None) -> None:
        if not self.is_set("data_offset"):
            self.data_offset = (20 + len(self.options_raw)) // 4
        if not self.is_set("checksum"):
            self.checksum = 0
            if under is not None and hasattr(under, "pseudo_header"):
                segment = self.pack() + payload
                pseudo = under.pseudo_header(PROTOCOL, len(segment))
                self.checksum = internet_checksum(segment, ones_complement_sum(pseudo))

    def checksum_status(self, under: Header | None) -> str:
        """``good``, ``bad``, ``offloaded`` (left for the NIC) or ``unverified`` (segment not all here)."""
        segment = self._buf[self._off:self._end]
        complete = getattr(under, "captured_whole", False)
        pseudo = b""
        if complete and under is not None and hasattr(under, "pseudo_header"):
            pseudo = under.pseudo_header(PROTOCOL, len(segment))
        return segment_status(segment, pseudo, self._v[7], complete)

    @classmethod
    def summary_at(cls, data: bytes, off: int, end: int) -> str:
        v = _unpack(data, off)
        opt_end = off + (v[4] >> 4) * 4
        if opt_end > len(data):             # rare: options cut by the snap length
            return _cut_line(v, data, off + 20, opt_end, end)
        return _line(v, data, off + 20, opt_end, end - opt_end)

    def summary(self) -> str:
        if self._build is None:        # parsed: options and payload are read in place, not copied
            return self.summary_at(self._buf, self._off, self._end)
        options = self.options_raw
        return _line(self._v, options, 0, len(options), 0)


def _line(v: tuple, buf: bytes, opt_start: int, opt_end: int, length: int) -> str:
    """tcpdump's text for a segment with words ``v``, options ``buf[opt_start:opt_end]`` and ``length``
    bytes of data: ``Flags [P.], seq 1:93, ack 1, win 502, options [nop,nop,TS val 1 ecr 2], length 92``."""
    bits = v[5]                        # words: 2 seq, 3 ack, 4 data offset/reserved/AE, 5 CWR..FIN, 6 window
    flags = FLAG_STRINGS[(v[4] & 1) << 8 | bits]
    if opt_end - opt_start == 12 and bits & 0x30 == 0x10:
        kinds, val, ecr = _three_words(buf, opt_start)
        if kinds == _NOP_NOP_TS:       # most segments of an open connection: the line in one f-string
            if length:
                return (f"Flags [{flags}], seq {v[2]}:{(v[2] + length) & 0xFFFFFFFF}, ack {v[3]}, win {v[6]}, "
                        f"options [nop,nop,TS val {val} ecr {ecr}], length {length}")
            if not bits & 0x7:
                return f"Flags [{flags}], ack {v[3]}, win {v[6]}, options [nop,nop,TS val {val} ecr {ecr}], length 0"
    if length:                         # data, or SYN/FIN/RST: the sequence matters
        seq = f", seq {v[2]}:{(v[2] + length) & 0xFFFFFFFF}"
    elif bits & 0x7:
        seq = f", seq {v[2]}"
    else:
        seq = ""
    ack = f", ack {v[3]}" if bits & 0x10 else ""
    urgent = f", urg {v[8]}" if bits & 0x20 else ""
    if opt_end > opt_start:
        options = _options_text(buf, opt_start, opt_end)
        if options.endswith("[bad opt]]"):        # tcpdump stops there: no length
            return f"Flags [{flags}]{seq}{ack}, win {v[6]}{urgent}{options}"
    else:
        options = ""
    return f"Flags [{flags}]{seq}{ack}, win {v[6]}{urgent}{options}, length {length}"


def _cut_line(v: tuple, data: bytes, opt_start: int, opt_end: int, end: int) -> str:
    """tcpdump's text for a header whose options run past the captured bytes: the fixed fields, then the
    options that were captured whole and the list left open, as tcpdump leaves it before its ``[|tcp]``
    (the packet's malformed mark follows); the length, when the IP header gives the datagram's end."""
    bits = v[5]
    length = end - opt_end if end > len(data) else 0
    seq = f", seq {v[2]}:{(v[2] + length) & 0xFFFFFFFF}" if length else (f", seq {v[2]}" if bits & 0x7 else "")
    ack = f", ack {v[3]}" if bits & 0x10 else ""
    urgent = f", urg {v[8]}" if bits & 0x20 else ""
    texts, i, stop = [], opt_start, len(data)
    while i < stop:
        kind = data[i]
        size = 1 if kind in (0, 1) else (data[i + 1] if i + 1 < stop else 0)
        if size < 1 or i + size > stop or (kind not in (0, 1) and size < 2):
            break
        texts.append(TCP_OPTIONS.texts(data, i, i + size, 0)[0])
        if kind == 0:                       # the end of the list was captured: the list closes
            texts.append("]")
            break
        i += size
    options = ",".join(texts).replace(",]", "]")
    return f"Flags [{FLAG_STRINGS[(v[4] & 1) << 8 | bits]}]{seq}{ack}, win {v[6]}{urgent}, options [{options}"


# nop, nop, timestamps: the options of nearly every segment of an open connection (RFC 7323 §3, App. A)
_NOP_NOP_TS = 0x0101080A            # kinds 1, 1, 8 and the TS length 10, as one word
_three_words = struct.Struct("!III").unpack_from


def _options_text(buf: bytes, start: int, end: int) -> str:
    """``, options [...]`` for the options in ``buf[start:end]`` as tcpdump writes them ('' for none)."""
    if end - start == 12:
        kinds, val, ecr = _three_words(buf, start)
        if kinds == _NOP_NOP_TS:                                  # the usual case: no walk needed
            return f", options [nop,nop,TS val {val} ecr {ecr}]"
    try:
        return f", options [{','.join(TCP_OPTIONS.texts(buf, start, end, start))}]"
    except DecodeError:         # as tcpdump: the options before the one that does not fit, and its name
        return f", options [{_until_bad(buf, start, end)}[bad opt]]"


def _until_bad(buf: bytes, start: int, end: int) -> str:
    """The options in ``buf[start:end]`` that fit, then the name of the first that does not (tcpdump's
    text before its ``[bad opt]``)."""
    texts, i = [], start
    while i < end:
        kind = buf[i]
        size = 1 if kind in (0, 1) else (buf[i + 1] if i + 1 < end else 0)
        if size < 1 or (kind not in (0, 1) and (size < 2 or i + size > end)):
            texts.append(TCP_OPTIONS.option(kind).name)
            break
        texts.append(TCP_OPTIONS.texts(buf, i, i + size, 0)[0])
        if kind == 0:
            break
        i += size
    return ",".join(texts)


_unpack = TCP._STRUCT.unpack_from
register(IP_PROTOCOL_NEXT, PROTOCOL, TCP)
