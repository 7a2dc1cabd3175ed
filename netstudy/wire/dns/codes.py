"""DNS's names and numbers: opcodes, rcodes, record types and classes both ways, the limits on names,
and the fixed-size parts of a message (header, question tail, record head: RFC 1035 §4.1)."""
from __future__ import annotations

import struct

from netstudy.errors import InputError

LAYER = "DNS"
PORT = 53

OPCODES = {0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE", 6: "DSO"}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
          6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE", 16: "BADVERS"}
TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT", 28: "AAAA",
         33: "SRV", 41: "OPT", 43: "DS", 46: "RRSIG", 48: "DNSKEY", 64: "SVCB", 65: "HTTPS", 252: "AXFR",
         255: "ANY", 257: "CAA"}
CLASSES = {1: "IN", 3: "CH", 4: "HS", 254: "NONE", 255: "ANY"}
_TYPE_CODES = {v: k for k, v in TYPES.items()}
_CLASS_CODES = {v: k for k, v in CLASSES.items()}

MAX_NAME = 255          # bytes of a name on the wire, root label included (RFC 1035 §2.3.4)
MAX_LABEL = 63


def _name_or_number(table: dict[int, str], prefix: str, code: int) -> str:
    return table.get(code) or f"{prefix}{code}"


def type_name(code: int) -> str:
    """``1 -> 'A'``; types without a mnemonic as RFC 3597 writes them: ``'TYPE65280'``."""
    return _name_or_number(TYPES, "TYPE", code)


def class_name(code: int) -> str:
    return _name_or_number(CLASSES, "CLASS", code)


def rcode_name(code: int) -> str:
    return _name_or_number(RCODES, "RCODE", code)


def _code(codes: dict[str, int], prefix: str, what: str, text: str | int) -> int:
    if isinstance(text, int):
        code = text
    else:
        upper = text.upper()
        if upper in codes:
            return codes[upper]
        if not (upper.startswith(prefix) and upper[len(prefix):].isdigit()):
            raise InputError(f"{text!r} is not a DNS {what} (e.g. {', '.join(list(codes)[:6])} or {prefix}123)")
        code = int(upper[len(prefix):])
    if not 0 <= code <= 0xFFFF:
        raise InputError(f"DNS {what} {code} is not in 0..65535")
    return code


def type_code(text: str | int) -> int:
    """``'AAAA' -> 28``, ``'TYPE65280' -> 65280`` (RFC 3597 §5); InputError naming the text otherwise."""
    return _code(_TYPE_CODES, "TYPE", "type", text)


def class_code(text: str | int) -> int:
    return _code(_CLASS_CODES, "CLASS", "class", text)


_HEADER = struct.Struct("!HHHHHH")     # ID, flags, then the four section counts (RFC 1035 §4.1.1)
_Q = struct.Struct("!HH")              # a question's type and class, after its name (RFC 1035 §4.1.2)
_RR = struct.Struct("!HHIH")           # a record's type, class, TTL, rdlength, after its name (§4.1.3)
