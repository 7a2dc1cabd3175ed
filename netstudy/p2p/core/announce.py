"""The announcement: one discovery datagram, a 36-byte field table (like every ``netstudy.wire`` header),
and the constants the peers agree on. See ``netstudy.p2p.core`` for the whole protocol."""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from netstudy.errors import DecodeError, InputError
from netstudy.wire.fields import Field, Header, Span
from netstudy.wire.numbers import UDP_PORT_NEXT, register

NS_PER_S = 1_000_000_000
DISCOVERY_GROUP = "239.255.42.99"     # administratively scoped (RFC 2365): never routed off the site
# IPv6: a link-local group (scope 2, RFC 4291 2.7: never forwarded by a router) whose group id spells
# "NSP2" (4e 53 50 32), joined on one interface, announcements to port DISCOVERY_PORT as for IPv4
DISCOVERY_GROUP6 = "ff02::4e53:5032"
DISCOVERY_PORT = 47100
DEFAULT_HOST = "127.0.0.1"
MAGIC = b"NSP2"
VERSION = 1
HELLO, BYE = 1, 2
KINDS = {HELLO: "hello", BYE: "bye"}
MAX_NAME = 16              # bytes of UTF-8
MAX_TEXT = 2000            # characters in one message
MAX_LINE = 8192            # bytes in one link line (a message's text, escaped as JSON, fits)
HOP_LIMIT = 16
SEEN = 4096                # message ids remembered for duplicate detection
MAX_PEERS = 256            # members (not GONE) the table keeps; more announcements are ignored
MAX_LAMPORT_JUMP = 1_000_000   # a Lamport time further ahead than this is hostile: refused
ANNOUNCE_FORMAT = "!4sBBHQI16s"
ANNOUNCE = struct.Struct(ANNOUNCE_FORMAT)

# ---------------------------------------------------------------------------------------- announcement
class Announcement(Header):
    """One discovery datagram's payload: who I am and where my TCP port is (36 bytes)."""

    NAME = "P2P announcement"
    LAYER = "application"
    magic: bytes
    version: int
    kind: int
    port: int
    peer_id: int
    seq: int
    name: bytes
    FIELDS: ClassVar[tuple[Field, ...]] = (
        Field("magic", 32, 'b"NSP2": this is a netstudy peer announcement', "bytes", MAGIC),
        Field("version", 8, "format version, 1", default=VERSION),
        Field("kind", 8, "1 = hello (a heartbeat), 2 = bye (leaving)", default=HELLO, names=KINDS),
        Field("port", 16, "the TCP port the peer accepts links on"),
        Field("peer_id", 64, "random 64-bit id, chosen at start: names the peer, orders the ring", "hex"),
        Field("seq", 32, "heartbeat counter: +1 per announcement"),
        Field("name", 128, "nickname, UTF-8, padded with NUL bytes to 16", "bytes", bytes(16)),
    )

    @classmethod
    def _locate(cls, data: bytes, off: int, end: int) -> Span:
        if end - off >= 4 and data[off:off + 4] != MAGIC:       # not ours: say so before its length
            raise cls._fail("magic", off, f"{bytes(data[off:off + 4])!r} is not {MAGIC!r}")
        if end - off < cls.MIN_LENGTH:
            raise cls._short(off, end)
        if data[off + 4] != VERSION:
            raise cls._fail("version", off, f"version {data[off + 4]} is not {VERSION}")
        return cls, off, end, None, off + cls.MIN_LENGTH, end


register(UDP_PORT_NEXT, DISCOVERY_PORT, Announcement)


def host_port(host: str, port: int) -> str:
    """``host:port`` as text, an IPv6 address in brackets (RFC 3986 3.2.2): ``[fe80::1%eth0]:40000``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a peer's name, or None: 1 to 16 bytes of UTF-8, printable, no space."""
    if not name:
        return "empty"
    if len(name.encode("utf-8")) > MAX_NAME:
        return f"longer than {MAX_NAME} bytes of UTF-8"
    if not name.isprintable() or any(c.isspace() for c in name) or "#" in name:
        return "must be printable, without spaces or '#'"
    return None


def check_name(name: str) -> str:
    """``name``, or InputError saying why it cannot be a peer's name."""
    problem = name_problem(name)
    if problem:
        raise InputError(f"peer name {name!r}: {problem}")
    return name


def encode_announcement(name: str, peer_id: int, port: int, seq: int = 0, kind: int = HELLO) -> bytes:
    """The 36 bytes of an announcement (``ANNOUNCE_FORMAT``)."""
    return ANNOUNCE.pack(MAGIC, VERSION, kind, port, peer_id, seq & 0xFFFFFFFF, name.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class Heard:
    """An announcement that decoded and makes sense."""
    kind: int
    name: str
    peer_id: int
    port: int
    seq: int


def decode_announcement(data: bytes) -> Heard:
    """Read an announcement; DecodeError (field, offset) when it is not one or makes no sense."""
    a = Announcement.parse(data)
    if len(data) != ANNOUNCE.size:
        raise DecodeError(Announcement.NAME, "length", 0, f"{len(data)} bytes, an announcement has {ANNOUNCE.size}")
    if a.kind not in KINDS:
        raise DecodeError(Announcement.NAME, "kind", 5, f"unknown kind {a.kind}")
    if a.port == 0:
        raise DecodeError(Announcement.NAME, "port", 6, "port 0")
    if a.peer_id == 0:
        raise DecodeError(Announcement.NAME, "peer_id", 8, "peer id 0")
    raw = bytes(a.raw("name")).rstrip(b"\x00")
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(Announcement.NAME, "name", 20 + exc.start, "not UTF-8") from None
    problem = name_problem(name)
    if problem:
        raise DecodeError(Announcement.NAME, "name", 20, f"name {name!r}: {problem}")
    return Heard(a.kind, name, a.peer_id, a.port, a.seq)
