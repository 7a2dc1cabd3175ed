"""An authoritative server's answering logic, with no sockets (sans-I/O): :class:`Responder`.

``Responder.receive(query_bytes, tcp)`` is the whole protocol: bytes in, bytes (or None: drop) out.
It answers from its zones with AA set, follows CNAME chains inside them, tells NXDOMAIN from NODATA
(the SOA in the authority section, RFC 2308), refers delegations with NS and glue, honours the EDNS0
payload size and sets TC when the answer does not fit (RFC 6891 §7), and answers REFUSED outside its
zones (it never recurses or forwards), FORMERR for malformed queries, NOTIMP for opcodes other than
QUERY, BADVERS for EDNS versions other than 0. Unknown EDNS options (dig's COOKIE) are ignored.

Because the zones do not change while it runs, a reply depends only on the query bytes after the ID:
the responder keeps the encoded reply per query (``cache``) and a repeat costs one dict lookup and
an ID patch.
"""
from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Iterable

from netstudy.dns.core.zone import Zone
from netstudy.errors import DecodeError
from netstudy.wire.dns import MX, OPT, SRV, Message, Name, Record, make_opt, type_code

__all__ = ["Responder", "EDNS_PAYLOAD"]

EDNS_PAYLOAD = 1232        # what we advertise and the most we send over UDP (DNS flag day 2020)
MAX_CHAIN = 16             # CNAMEs followed inside our zones before giving up
CACHE_LIMIT = 50_000       # cached replies kept before the cache starts over
ANY, AXFR, IXFR = 255, 252, 251
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
BADVERS = 16
A_TYPE, NS_TYPE, CNAME_TYPE, AAAA_TYPE = (type_code(t) for t in ("A", "NS", "CNAME", "AAAA"))


class Responder:
    """Answers DNS queries from zones: the server's protocol logic, with no sockets (sans-I/O)."""

    def __init__(self, zones: Zone | Iterable[Zone], max_udp: int = EDNS_PAYLOAD) -> None:
        zones = [zones] if isinstance(zones, Zone) else list(zones)
        self.zones = {z.origin: z for z in zones}
        self.max_udp = max_udp
        self.cache: dict[bytes, bytes] = {}           # query after its ID -> reply after its ID (UDP)
        self.tcp_cache: dict[bytes, bytes] = {}
        self.rcodes: Counter[str] = Counter()         # replies built (not cached ones) by rcode name

    # -- bytes in, bytes out -------------------------------------------------------------------------

    def receive(self, data: bytes, tcp: bool = False) -> bytes | None:
        """A query message arrived: the reply's bytes, or None when it must be dropped (too short, or a
        response). Malformed input gets FORMERR, never an exception. No ``now_ns``: an answer does not
        depend on time (the zones do not change and TTLs are not counted down)."""
        cache = self.tcp_cache if tcp else self.cache
        tail = cache.get(data[2:])
        if tail is not None:
            return data[:2] + tail
        if len(data) < 12 or data[2] & 0x80:        # no header to answer, or a response: never reply
            return None
        try:
            query = Message.parse(data)
        except DecodeError:
            self.rcodes["FORMERR"] += 1
            return self._formerr(data)
        reply = self.answer(query)
        wire = reply.to_wire()
        limit = 65535 if tcp else self._udp_limit(query)
        if len(wire) > limit:
            wire = self._truncated(reply).to_wire()
        self.rcodes[reply.status] += 1
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[data[2:]] = wire[2:]
        return wire

    def _udp_limit(self, query: Message) -> int:
        opt = query.opt
        return 512 if opt is None else max(512, min(opt.payload_size, self.max_udp))

    @staticmethod
    def _formerr(data: bytes) -> bytes:
        """FORMERR with the ID, opcode and RD echoed and no sections (the query could not be read)."""
        ident, flags = struct.unpack_from("!HH", data)
        return struct.pack("!HHHHHH", ident, 0x8000 | (flags & 0x7900) | FORMERR, 0, 0, 0, 0)

    @staticmethod
    def _truncated(reply: Message) -> Message:
        """TC set, records dropped (the question and OPT stay): the client retries over TCP (RFC 2181 §9)."""
        short = Message(id=reply.id, qr=True, opcode=reply.opcode, aa=reply.aa, tc=True, rd=reply.rd,
                        cd=reply.cd, rcode=reply.rcode, question=list(reply.question))
        opt = reply.opt
        if opt is not None:
            short.additional.append(opt)
        return short

    # -- the answer as a message --------------------------------------------------------------------

    def answer(self, query: Message) -> Message:
        """The reply message to a parsed query (RFC 1034 §4.3.2, without recursion or wildcards)."""
        opt = query.opt
        if query.opcode != 0:
            return self._with_opt(query.reply(NOTIMP), opt)
        if len(query.question) != 1 or query.qr:
            return self._with_opt(query.reply(FORMERR), opt)
        if opt is not None and opt.edns_version != 0:
            reply = query.reply(BADVERS & 0xF)
            reply.additional.append(make_opt(EDNS_PAYLOAD, extended_rcode=BADVERS >> 4))
            return reply
        q = query.question[0]
        zone = self._zone_for(q.name)
        if zone is None or q.cls not in (1, ANY) or q.type in (AXFR, IXFR, OPT.TYPE):
            return self._with_opt(query.reply(REFUSED), opt)
        reply = query.reply(NOERROR, aa=True)
        self._resolve(zone, q.name, q.type, reply)
        self._add_glue(reply)
        return self._with_opt(reply, opt)

    @staticmethod
    def _with_opt(reply: Message, opt: Record | None) -> Message:
        if opt is not None:
            reply.additional.append(make_opt(EDNS_PAYLOAD))
        return reply

    def _zone_for(self, name: Name) -> Zone | None:
        """The closest enclosing zone we are authoritative for."""
        labels = name.labels
        for i in range(len(labels) + 1):
            zone = self.zones.get(Name._trusted(labels[i:]))
            if zone is not None:
                return zone
        return None

    def _resolve(self, zone: Zone, name: Name, qtype: int, reply: Message) -> None:
        seen: set[Name] = set()
        for _ in range(MAX_CHAIN):
            if name in seen:
                break                                      # a CNAME loop in the zone data
            seen.add(name)
            cut = zone.cut(name)
            if cut is not None:
                # a referral (RFC 1034 §4.3.2 step 3b): not authoritative below the cut
                if not reply.answer:
                    reply.aa = False
                reply.authority.extend(zone.get(cut, NS_TYPE))
                return
            node = zone.nodes.get(name)
            if node is None:
                if zone.has_descendants(name):
                    self._negative(zone, reply)            # empty non-terminal: NODATA
                else:
                    self._negative(zone, reply, NXDOMAIN)
                return
            if qtype == ANY:
                reply.answer.extend(rr for rrset in node.values() for rr in rrset)
                return
            if qtype in node:
                reply.answer.extend(node[qtype])
                return
            cname = node.get(CNAME_TYPE)
            if cname:
                reply.answer.extend(cname)
                name = cname[0].rdata.target  # type: ignore[attr-defined]
                if not name.is_subdomain(zone.origin):
                    other = self._zone_for(name)
                    if other is None:
                        return                             # leaves our zones: the CNAME is the answer
                    zone = other
                continue
            self._negative(zone, reply)                    # the name exists, not this type: NODATA
            return
        reply.rcode = SERVFAIL                             # a CNAME loop, or a chain longer than MAX_CHAIN

    @staticmethod
    def _negative(zone: Zone, reply: Message, rcode: int = NOERROR) -> None:
        """NXDOMAIN or NODATA: the SOA in the authority section, TTL capped by its minimum (RFC 2308 §3)."""
        soa = zone.soa
        reply.rcode = rcode
        reply.authority.append(Record(soa.name, soa.rdata, min(soa.ttl, soa.rdata.minimum)))  # type: ignore

    def _add_glue(self, reply: Message) -> None:
        """Addresses of the NS, MX and SRV targets we know (RFC 1034 §3.7; glue for referrals)."""
        seen = {(rr.name, rr.type) for rr in reply.answer}
        for rr in reply.answer + reply.authority:
            if rr.type not in (NS_TYPE, MX.TYPE, SRV.TYPE):
                continue
            target = rr.rdata.exchange if rr.type == MX.TYPE else rr.rdata.target  # type: ignore[attr-defined]
            zone = self._zone_for(target)
            if zone is None:
                continue
            for rtype in (A_TYPE, AAAA_TYPE):
                if (target, rtype) not in seen:
                    seen.add((target, rtype))
                    reply.additional.extend(zone.get(target, rtype))
