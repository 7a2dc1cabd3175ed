"""UDP (RFC 768): ports, a length and a checksum over a pseudo-header."""
from __future__ import annotations

import struct

from netstudy.wire.checksum import internet_checksum, ones_complement_sum, segment_status
from netstudy.wire.fields import Field, Header, Span
from netstudy.wire.ipv4 import IPv4
from netstudy.wire.numbers import IP_PROTOCOL_NEXT, UDP_PORT_NEXT, register

PROTOCOL = 17
_skim = struct.Struct("!HHH").unpack_from      # what decoding reads: ports, length


class UDP(Header):
    """The UDP header (RFC 768): 8 bytes."""

    NAME = "UDP"
    LAYER = "transport"
    ROW = (("sport", "sport"), ("dport", "dport"))
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    sport: int
    dport: int
    length: int
    checksum: int
    FIELDS = (
        Field("sport", 16, "source port, where replies go (RFC 768)"),
        Field("dport", 16, "destination port (RFC 768)"),
        Field("length", 16, "bytes of header and data, at least 8 (RFC 768)", default=None, auto=True),
        Field("checksum", 16, "Internet checksum of pseudo-header, header and data; 0 = none over IPv4 "
                              "(RFC 768)", "hex", None, auto=True),
    )

    @classmethod
    def _locate(cls, data: bytes, off: int, end: int) -> Span:
        if end - off < 8:
            raise cls._short(off, end)
        sport, dport, length = _skim(data, off)
        if length and length < 8:
            raise cls._fail("length", off, f"length {length} is less than the 8-byte header")
        stop = off + length
        if stop > end or not length:            # rare: 0 (offload, a jumbogram), or cut by the snap length
            if length:                          # cut: what follows is told (DNS's CUT names the cut)
                above = UDP_PORT_NEXT[dport] or UDP_PORT_NEXT[sport]
                if end == off + 8 or above is None:
                    return cls, off, end, None, off + 8, end
                return cls, off, end, getattr(above, "CUT", above), off + 8, end
            stop = end
        if stop == off + 8:                     # an application header only where there is a payload
            return cls, off, end, None, stop, stop
        return cls, off, end, UDP_PORT_NEXT[dport] or UDP_PORT_NEXT[sport], off + 8, stop

    def fill(self, payload: bytes, under: Header | None, over: Header | None) -> None:
        if not self.is_set("length"):
            self.length = 8 + len(payload)
        if not self.is_set("checksum"):
            self.checksum = 0
            if under is not None and hasattr(under, "pseudo_header"):
                pseudo = under.pseudo_header(PROTOCOL, self.length)
                self.checksum = internet_checksum(self.pack() + payload, ones_complement_sum(pseudo)) or 0xFFFF

    def checksum_status(self, under: Header | None) -> str:
        """``good``, ``bad``, ``offloaded``, ``unverified`` or ``none`` (0 over IPv4, RFC 768)."""
        if self._v[3] == 0 and isinstance(under, IPv4):
            return "none"
        segment = self._buf[self._off:self.layout()[2]]
        complete = getattr(under, "captured_whole", False) and len(segment) == self._v[2]
        pseudo = b""
        if complete and under is not None and hasattr(under, "pseudo_header"):
            pseudo = under.pseudo_header(PROTOCOL, self._v[2])
        return segment_status(segment, pseudo, self._v[3], complete)

    @classmethod
    def summary_at(cls, data: bytes, off: int, end: int) -> str:
        """``UDP, length N``: N from the header's length field, as tcpdump writes it, whether the bytes are
        all here or not (the first fragment of a datagram, a frame cut by the snap length); from the bytes
        there are when the field is 0 (a jumbogram, segmentation offload)."""
        start, stop = cls._locate(data, off, end)[4:]
        length = data[off + 4] << 8 | data[off + 5]
        return f"UDP, length {length - 8 if length else stop - start}"

    def summary(self) -> str:
        if not self._buf:                  # built, not parsed: no payload here
            return "UDP, length 0"
        return self.summary_at(self._buf, self._off, self._end)


register(IP_PROTOCOL_NEXT, PROTOCOL, UDP)
