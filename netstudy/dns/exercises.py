"""Checks for the exercises of notebooks/01_dns.ipynb: each says what is right, or what to look at."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from netstudy.wire.dns import RDATA_TYPES, A, Message, Name, Question, RData, Record, type_code

__all__ = ["check_decode_response", "check_record_type", "decode_cases"]


def decode_cases() -> list[tuple[bytes, tuple[int, int, str]]]:
    """Replies to decode, with (ID, rcode, first A address): compressed and uncompressed owner names."""
    cases = []
    for ident, name, address, compress in ((0x1234, "www.netstudy.test", "127.0.0.80", True),
                                           (7, "mail.netstudy.test", "127.0.0.25", False),
                                           (65535, "a.b.netstudy.test", "127.0.0.2", True)):
        reply = Message(id=ident, qr=True, aa=True, rd=True, question=[Question(Name(name), type_code("A"))],
                        answer=[Record(Name(name), A(address), 300)])
        cases.append((reply.to_wire(compress), (ident, 0, address)))
    return cases


def check_decode_response(fn: Callable[[bytes], tuple[int, int, str]]) -> str:
    """Test a hand-written decoder: ``fn(reply_bytes) -> (id, rcode, first A record's address)``."""
    for data, expected in decode_cases():
        try:
            got = fn(data)
        except Exception as exc:  # the student's code may fail in any way; say how, kindly
            return f"✗ your function raised {type(exc).__name__}: {exc} on {data.hex()}"
        if got == expected:
            continue
        hint = ""
        if isinstance(got, tuple) and len(got) == 3:
            if got[0] != expected[0]:
                hint = " — the ID is the first 2 bytes, big-endian: struct.unpack_from('!H', data, 0)"
            elif got[1] != expected[1]:
                hint = " — the rcode is the low 4 bits of byte 3: data[3] & 0x0F"
            else:
                hint = (" — after the question (name, then 4 bytes of type and class) comes the answer's name: "
                        "2 bytes if it starts with 0b11 (a pointer), else labels up to a zero byte; then "
                        "type, class, TTL and rdlength take 10 bytes, and the address is the next 4")
        return f"✗ for {data.hex()} you returned {got!r}, expected {expected!r}{hint}"
    return f"✓ right on all {len(decode_cases())} replies, compressed and uncompressed names"


HINFO_WIRE = b"\x06x86_64\x05Linux"


def check_record_type(cls: type[RData]) -> str:
    """Test a student's HINFO record class (RFC 1035 §3.3.2): type 13, two character-strings CPU and OS."""
    if getattr(cls, "TYPE", None) != 13:
        return f"✗ {cls.__name__}.TYPE is {getattr(cls, 'TYPE', None)!r}: HINFO is type 13 (RFC 1035 §3.3.2)"
    try:
        record = cast(Any, cls)(cpu=b"x86_64", os=b"Linux")     # the student's fields, not RData's
        wire = Message(id=1, qr=True, answer=[Record(Name("box.netstudy.test"), record, 60)]).to_wire()
    except Exception as exc:  # the student's code may fail in any way; say how, kindly
        return f"✗ building a message with your record raised {type(exc).__name__}: {exc}"
    rdata = wire[12 + Name("box.netstudy.test").wire_length + 10:]
    if rdata != HINFO_WIRE:
        return (f"✗ your record data is {rdata.hex() or 'empty'}, expected {HINFO_WIRE.hex()} "
                f"— each string is one length byte, then the bytes (a <character-string>, RFC 1035 §3.3)")
    saved = RDATA_TYPES.get(13)
    RDATA_TYPES[13] = cls
    try:
        back = Message.parse(wire).answer[0].rdata
    except Exception as exc:  # the student's code may fail in any way; say how, kindly
        return f"✗ reading your record back raised {type(exc).__name__}: {exc}"
    finally:
        if saved is None:
            del RDATA_TYPES[13]
        else:
            RDATA_TYPES[13] = saved
    if back != record:
        return f"✗ read back as {back!r}, expected {record!r}"
    text = record.to_text()
    if text != '"x86_64" "Linux"':
        return f"✗ to_text() gave {text!r}, dig writes '\"x86_64\" \"Linux\"'"
    return "✓ HINFO builds, parses back and prints like dig"
