"""Capture sockets: every frame an interface sees, through an ``AF_PACKET`` socket (packet(7)).

Two ways to read them, the lesson's and the fast one:

- :class:`RecvCapture`: one ``recvmsg()`` system call per frame; the kernel's arrival time comes with it
  as ``SO_TIMESTAMPNS`` ancillary data (socket(7)) and the direction in the address (``sll_pkttype``).
- :class:`RingCapture`: a receive ring shared with the kernel (``PACKET_RX_RING``, ``TPACKET_V3``,
  Documentation/networking/packet_mmap.rst): the kernel fills blocks of frames, each a
  ``tpacket3_hdr`` + ``sockaddr_ll`` + the frame, and marks a block ``TP_STATUS_USER`` when it is full
  or when ``tp_retire_blk_tov`` milliseconds have passed; we read the whole block without a system
  call and hand it back by writing ``TP_STATUS_KERNEL`` into its ``block_status``. ``poll()`` only
  when the next block is not ours yet.

Both open the socket with protocol 0 (nothing arrives), attach the filter, then ``bind()`` to the
interface with ``ETH_P_ALL``, as libpcap does, so no frame of another interface slips in before the
bind. On ``any`` the socket is ``SOCK_DGRAM``, bound to no interface (it listens from its creation: what
queued before the filter is drained), and each frame gets a Linux cooked v2 header built from its
``sockaddr_ll`` (LINKTYPE_LINUX_SLL2, with the interface index), as tcpdump 4.99's. Promiscuous mode is a membership
(``PACKET_ADD_MEMBERSHIP``/``PACKET_MR_PROMISC``) that ends with the socket. ``PACKET_STATISTICS``
(``tpacket_stats``; with TPACKET_V3 ``tpacket_stats_v3`` with ``tp_freeze_q_cnt``) is read and
summed: the kernel resets it on every read.

On loopback the kernel hands a packet socket every packet twice, going out (``PACKET_OUTGOING``) and
coming in; libpcap skips the outgoing copy of frames on ``lo`` (pcap-linux.c, ``lo_ifindex``), so tcpdump
shows each once while its "received by filter" (the kernel's count) has both. Both paths here do the same
unless ``loopback_twice=True`` (the lesson: what the socket really gets).

802.1Q tags: the kernel takes the outer VLAN tag out of a frame before a packet socket sees it (VLAN
offload, or the 8021q driver) and hands it over as metadata: ``hv1.tp_vlan_tci``/``tp_vlan_tpid`` with
``TP_STATUS_VLAN_VALID``/``TP_STATUS_VLAN_TPID_VALID`` in the ring's ``tpacket3_hdr``, a ``PACKET_AUXDATA``
control message (``struct tpacket_auxdata``) on ``recvmsg()``. Both paths put the tag back after the MAC
addresses as libpcap does (pcap-linux.c, ``VLAN_TAG_LEN``), so a frame reads, prints and is written as it
was on the wire: 4 bytes longer, then cut to the snap length. Not on ``any`` (libpcap knows no place for
it in a cooked v2 header). The kernel's filter still runs on the untagged frame: compile it with ``live=True``.

A frame is a tuple ``(timestamp_ns, data, wire_length, pkttype)``: nanoseconds since the epoch, the
bytes kept (at most the snap length), the length on the wire, and ``sll_pkttype`` (0 to us, 4 sent by us...).
"""
from __future__ import annotations

import contextlib
import errno
import functools
import mmap
import select
import socket
import struct
import sys
from dataclasses import dataclass
from itertools import compress

from netstudy.errors import InputError, PrivilegeError
from netstudy.net.filter import attach_filter
from netstudy.wire.bpf import BpfProgram

SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP, PACKET_RX_RING, PACKET_STATISTICS, PACKET_AUXDATA, PACKET_VERSION = 1, 5, 6, 8, 10
PACKET_MR_PROMISC = 1
TPACKET_V3 = 2
TP_STATUS_KERNEL, TP_STATUS_USER = 0, 1
TP_STATUS_VLAN_VALID, TP_STATUS_VLAN_TPID_VALID = 1 << 4, 1 << 6
ETH_P_8021Q = 0x8100
VLAN_OFFSET = 12                                # the tag goes after the two MAC addresses
VLAN_TAG_LEN = 4
SO_TIMESTAMPNS = SCM_TIMESTAMPNS = 35           # asm-generic/socket.h (SO_TIMESTAMPNS_OLD)
SO_RCVBUFFORCE = 33
ETH_P_ALL = 0x0003
ARPHRD_ETHER, ARPHRD_LOOPBACK = 1, 772
LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL2 = 1, 276
COOKED_LENGTH = 20
DEFAULT_SNAPLEN = 262144                        # tcpdump's
DEFAULT_BUFFER = 2 * 1024 * 1024                # libpcap's default buffer (tcpdump -B 2048)
MAX_SNAPLEN = 262144
RING_BLOCK_SIZE = 262144                        # libpcap's TPACKET_V3 block: its MAXIMUM_SNAPLEN, page-rounded

Frame = tuple[int, bytes, int, int]              # (timestamp_ns, data, wire_length, pkttype)
PACKET_OUTGOING = 4

# struct tpacket_block_desc (version, offset_to_priv) + struct tpacket_hdr_v1 (block_status, num_pkts,
# offset_to_first_pkt, blk_len, ...): the block's first 24 bytes, if_packet.h
BLOCK_HEADER = struct.Struct("=IIIIII")
BLOCK_STATUS_OFFSET = 8
FRAME_SIZES = struct.Struct("=12xII4xH")          # tpacket3_hdr's tp_snaplen, tp_len, tp_mac
# struct tpacket3_hdr: tp_next_offset, tp_sec, tp_nsec, tp_snaplen, tp_len, tp_status, tp_mac, tp_net
FRAME_HEADER = struct.Struct("=IIIIIIHH")
VLAN_FIELDS = struct.Struct("=IH")               # tpacket3_hdr.hv1.tp_vlan_tci, tp_vlan_tpid
VLAN_FIELDS_OFFSET = 32
SOCKADDR_LL_OFFSET = 48                          # TPACKET_ALIGN(sizeof(struct tpacket3_hdr))
# the same header (hv1 and the padding skipped) and the sockaddr_ll after it (sll_ifindex, sll_pkttype):
# what the ring's hot loop reads of a frame, in one unpack
FRAME_AND_ADDRESS = struct.Struct("=IIIIIIHH20x4xi2xB")
# what a frame written as it came needs: tp_next_offset, tp_snaplen, tp_len, tp_status, tp_mac, sll_ifindex,
# sll_pkttype
FRAME_LENGTHS_AND_ADDRESS = struct.Struct("=I8xIIIH22x4xi2xB")
STAMP = struct.Struct("=II")                     # tp_sec, tp_nsec
PCAP_RECORD = struct.Struct("<IIII")             # a nanosecond pcap record header: sec, nsec, kept, length
# struct sockaddr_ll: family, protocol (network order), ifindex, hatype, pkttype, halen, addr[8]
SOCKADDR_LL = struct.Struct("=HHiHBB8s")
TPACKET_REQ3 = struct.Struct("=7I")             # block_size, block_nr, frame_size, frame_nr, retire_blk_tov,
                                                # sizeof_priv, feature_req_word
TIMESPEC = struct.Struct("=qq")
# a block cut in C (RingCapture._alike_stamped): at least this many frames, the tpacket3_hdr fields that must
# be the same in every one (offset, size: tp_next_offset, tp_snaplen, tp_mac), and the tp_status bytes (its
# lowest) that carry no VLAN tag: a bytes.translate deletion table, as is the one that deletes PACKET_OUTGOING
ALIKE_MIN = 8
ALIKE_FIELDS = ((0, 4), (12, 4), (24, 2))
UNTAGGED = bytes(status for status in range(256) if not status & TP_STATUS_VLAN_VALID)
OUTGOING = bytes([PACKET_OUTGOING])
NOT_OUTGOING = bytes(int(pkttype != PACKET_OUTGOING) for pkttype in range(256))   # pkttype -> kept (1) or not


def same_in_every_frame(frames: bytes | bytearray | mmap.mmap, offset: int, size: int, stride: int, count: int) -> bool:
    """Whether the ``size`` bytes at ``offset`` of each of the first ``count`` frames of ``frames`` (one
    every ``stride`` bytes) are the same: a byte column at a time, cut by a stepped slice."""
    for at in range(offset, offset + size):
        column = frames[at:at + count * stride:stride]
        if column.count(column[:1]) != count:
            return False
    return True


@functools.lru_cache(maxsize=32)
def frame_rows(stride: int, mac: int, kept: int, rows: int = 1, every: int = 1) -> struct.Struct:
    """The layout of ``rows`` ring frames ``stride`` bytes long, one every ``every`` frames from the first
    (the ones between skipped), each with ``kept`` bytes at ``mac``: for each, two fields, its 16 bytes
    from ``tp_sec`` to ``tp_len`` and its bytes. A block's frames in one ``unpack_from``, one tuple."""
    row, tail = f"4x16s{mac - 20}x{kept}s", stride - mac - kept
    return struct.Struct("=" + f"{row}{tail + stride * (every - 1)}x" * (rows - 1) + f"{row}{tail}x")


# struct tpacket_auxdata: tp_status, tp_len, tp_snaplen, tp_mac, tp_net, tp_vlan_tci, tp_vlan_tpid
AUXDATA = struct.Struct("=IIIHHHH")


@dataclass(frozen=True, slots=True)
class KernelStats:
    """``PACKET_STATISTICS`` summed over the capture: frames that passed the socket's filter (the
    kernel counts the dropped ones in too, as libpcap reports "received by filter"), frames dropped
    for want of room, and (TPACKET_V3) times the ring was full and the queue frozen."""

    received: int = 0
    dropped: int = 0
    freeze_count: int = 0

    def __add__(self, other: KernelStats) -> KernelStats:
        return KernelStats(self.received + other.received, self.dropped + other.dropped,
                           self.freeze_count + other.freeze_count)


def privilege_message() -> str:
    return ("capturing frames needs an AF_PACKET socket, which needs root or CAP_NET_RAW: run as root, or "
            "give the interpreter CAP_NET_RAW (setcap cap_net_raw+ep); reading a capture file (-r FILE) "
            "works without it")


def interface_index(name: str) -> int:
    """The index of interface ``name`` (0 for ``any``), or InputError naming the ones that exist."""
    if name == "any":
        return 0
    try:
        return socket.if_nametoindex(name)
    except OSError:
        names = ", ".join(n for _, n in socket.if_nameindex())
        raise InputError(f"{name}: no such interface (this host has: {names}, any)") from None


def interface_linktype(name: str) -> int:
    """The capture file link type of frames read on ``name``: Ethernet (loopback frames carry a zeroed
    Ethernet header on Linux), Linux cooked v2 for ``any``."""
    return LINKTYPE_LINUX_SLL2 if name == "any" else LINKTYPE_ETHERNET


def with_vlan_tag(data: bytes, tci: int, tpid: int) -> bytes:
    """``data`` with the 802.1Q tag (``tpid``, ``tci``) put back after the MAC addresses (pcap-linux.c)."""
    return data[:VLAN_OFFSET] + struct.pack("!HH", tpid, tci) + data[VLAN_OFFSET:]


def vlan_tpid(status: int, tpid: int) -> int:
    """The tag's TPID: the kernel's when it gave one, else 802.1Q's (libpcap's ``VLAN_TPID``)."""
    return tpid if tpid or status & TP_STATUS_VLAN_TPID_VALID else ETH_P_8021Q


def cooked_header(protocol: int, ifindex: int, hatype: int, pkttype: int, address: bytes) -> bytes:
    """The 20-byte Linux cooked capture v2 header (LINKTYPE_LINUX_SLL2) of a frame read on ``any``."""
    return struct.pack("!HHIHBB8s", protocol, 0, ifindex, hatype, pkttype, min(len(address), 8), address[:8])


@dataclass(slots=True)
class StampedFrames:
    """A ring block's frames as the kernel stamped them, for a capture that only writes them: ``records``
    holds, for each frame, its ``tp_sec, tp_nsec, tp_snaplen, tp_len`` (16 bytes in the host's byte order:
    on a little-endian host a nanosecond pcap record header, draft-ietf-opsawg-pcap §5), then its bytes;
    ``pkttypes`` each frame's ``sll_pkttype`` (a byte each); ``wire_bytes`` their lengths on the wire, summed."""

    records: bytes
    pkttypes: bytes
    wire_bytes: int

    def __len__(self) -> int:
        return len(self.pkttypes)


class CaptureSocket:
    """What both capture paths share: the socket, the interface, the filter, promiscuous mode and the
    kernel's counters. ``fileno()`` for a selector; ``close()`` (or ``with``) ends it."""

    mechanism = ""

    def __init__(self, interface: str = "lo", snaplen: int = DEFAULT_SNAPLEN, promiscuous: bool = False,
                 program: BpfProgram | None = None, loopback_twice: bool = False) -> None:
        self.interface = interface
        self.loopback_index = -1 if loopback_twice else interface_index("lo")
        self.ifindex = interface_index(interface)
        self.snaplen = snaplen
        self.linktype = interface_linktype(interface)
        self.cooked = interface == "any"
        kind = socket.SOCK_DGRAM if self.cooked else socket.SOCK_RAW
        try:                            # protocol 0: nothing until bind(); on any (no bind) everything at once
            self.sock = socket.socket(socket.AF_PACKET, kind, socket.htons(ETH_P_ALL) if self.cooked else 0)
        except PermissionError:
            raise PrivilegeError(privilege_message()) from None
        self._stats = KernelStats()
        try:
            self._setup()
            if program is not None:
                self.attach(program)
            if self.cooked:
                self._drain()
            else:
                self.sock.bind((interface, ETH_P_ALL))
            if promiscuous and self.ifindex:
                mreq = struct.pack("=iHH8s", self.ifindex, PACKET_MR_PROMISC, 0, b"")
                self.sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
            self.sock.setblocking(False)
        except BaseException:
            self.close()
            raise

    def _setup(self) -> None:
        """Options set before the bind (the ring, timestamps)."""

    def _drain(self) -> None:
        """Drop the frames queued before the filter was attached (an unbound socket hears from its creation)."""
        self.sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while True:
                self.sock.recv(1)

    def attach(self, program: BpfProgram) -> None:
        """Let the kernel run ``program`` on every frame (``SO_ATTACH_FILTER``, socket(7))."""
        attach_filter(self.sock, program)

    def fileno(self) -> int:
        return self.sock.fileno()

    def statistics(self) -> KernelStats:
        """The kernel's counters since the socket was opened (``PACKET_STATISTICS``, summed: each read
        resets them)."""
        if self.sock.fileno() >= 0:
            raw = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 12)
            packets, drops = struct.unpack_from("=II", raw)
            freeze = struct.unpack_from("=I", raw, 8)[0] if len(raw) >= 12 else 0
            self._stats += KernelStats(packets, drops, freeze)
        return self._stats

    def read(self, timeout: float | None = 0.0) -> list[Frame]:
        """The frames waiting (at most one block's worth), waiting up to ``timeout`` seconds for the
        first (None: until one comes); [] if none came."""
        raise NotImplementedError

    def close(self) -> None:
        if self.sock.fileno() >= 0:
            self.statistics()
        self.sock.close()

    def __enter__(self) -> CaptureSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wait(self, timeout: float | None) -> bool:
        if timeout == 0:
            return False
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLIN | select.POLLERR)
        return bool(poller.poll(None if timeout is None else timeout * 1000))


class RecvCapture(CaptureSocket):
    """One ``recvmsg()`` per frame: the frame, its length on the wire (``MSG_TRUNC``), the kernel's
    timestamp (``SCM_TIMESTAMPNS``) and the address with ``sll_pkttype``; the socket's receive buffer
    ``buffer_size`` bytes (``SO_RCVBUFFORCE`` as root, else ``SO_RCVBUF`` up to ``net.core.rmem_max``), as
    libpcap sizes it without a ring."""

    mechanism = "recvfrom"

    def __init__(self, interface: str = "lo", snaplen: int = DEFAULT_SNAPLEN, promiscuous: bool = False,
                 program: BpfProgram | None = None, loopback_twice: bool = False,
                 buffer_size: int = DEFAULT_BUFFER) -> None:
        self.buffer_size = buffer_size
        super().__init__(interface, snaplen, promiscuous, program, loopback_twice)

    def _setup(self) -> None:
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, self.buffer_size)
        except PermissionError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.buffer_size)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
        self._buffer = bytearray(self.snaplen)
        self._ancillary = socket.CMSG_SPACE(TIMESPEC.size) + socket.CMSG_SPACE(AUXDATA.size)
        self._indexes: dict[str, int] = {}

    def _index(self, name: str) -> int:
        """The index of interface ``name`` (recvfrom's address names it; the cooked header numbers it)."""
        index = self._indexes.get(name)
        if index is None:
            index = self._indexes[name] = socket.if_nametoindex(name)
        return index

    def read(self, timeout: float | None = 0.0) -> list[Frame]:
        frames: list[Frame] = []
        recvmsg_into, buffer, view = self.sock.recvmsg_into, self._buffer, memoryview(self._buffer)
        for _ in range(64):
            try:
                received, ancillary, _, address = recvmsg_into([buffer], self._ancillary, socket.MSG_TRUNC)
            except BlockingIOError:
                if frames or not self._wait(timeout):
                    break
                timeout = 0.0
                continue
            # address: (ifname, protocol, pkttype, hatype, hwaddr)
            if address[2] == PACKET_OUTGOING and self.loopback_index >= 0 and address[0] == "lo":
                continue
            stamp, length, tag = 0, received, None
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS:
                    seconds, nanoseconds = TIMESPEC.unpack(value)
                    stamp = seconds * 1_000_000_000 + nanoseconds
                elif level == SOL_PACKET and kind == PACKET_AUXDATA and len(value) >= AUXDATA.size:
                    length, tag = self._auxdata(value)
            data = bytes(view[:min(received, len(buffer))])
            if tag is not None and not self.cooked and len(data) >= VLAN_OFFSET:
                data, length = with_vlan_tag(data, *tag), length + VLAN_TAG_LEN
            if self.cooked:
                data = cooked_header(address[1], self._index(address[0]), address[3], address[2], address[4]) + data
                length += COOKED_LENGTH
            frames.append((stamp, data[:self.snaplen], length, address[2]))
        return frames

    @staticmethod
    def _auxdata(value: bytes) -> tuple[int, tuple[int, int] | None]:
        """From a ``tpacket_auxdata``: the frame's length on the wire (``tp_len``: ``recvmsg()`` gives the
        length the filter's ``ret`` cut it to) and its stripped VLAN tag ``(tci, tpid)``, None when it had
        none (libpcap's ``VLAN_VALID``: the flag, or a TCI from a kernel older than the flag)."""
        status, wire_length, _, _, _, tci, tpid = AUXDATA.unpack_from(value)
        if tci or status & TP_STATUS_VLAN_VALID:
            return wire_length, (tci, vlan_tpid(status, tpid))
        return wire_length, None


class RingCapture(CaptureSocket):
    """A TPACKET_V3 receive ring of ``block_count`` blocks of ``block_size`` bytes (together
    ``buffer_size``, tcpdump's ``-B``), a block retired to us after ``retire_ms`` at the latest. The blocks
    are libpcap's (pcap-linux.c, ``create_ring``): 256 KiB, 8 of them in the default 2 MiB, so the kernel
    goes on filling 7 while we read one; a frame longer than a block is cut to what fits."""

    mechanism = "ring"

    def __init__(self, interface: str = "lo", snaplen: int = DEFAULT_SNAPLEN, promiscuous: bool = False,
                 program: BpfProgram | None = None, loopback_twice: bool = False, buffer_size: int = DEFAULT_BUFFER,
                 retire_ms: int = 60) -> None:
        self.block_size = max(mmap.PAGESIZE, RING_BLOCK_SIZE)
        self.block_count = max(2, buffer_size // self.block_size)
        self.retire_ms = retire_ms
        self._block = 0
        self._ring: mmap.mmap | None = None
        super().__init__(interface, snaplen, promiscuous, program, loopback_twice)

    def _setup(self) -> None:
        self.sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
        frame_size = 2048
        request = TPACKET_REQ3.pack(self.block_size, self.block_count, frame_size,
                                    self.block_size // frame_size * self.block_count, self.retire_ms, 0, 0)
        self.sock.setsockopt(SOL_PACKET, PACKET_RX_RING, request)
        self._ring = mmap.mmap(self.sock.fileno(), self.block_size * self.block_count,
                               mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)

    def release(self, base: int) -> None:
        """Hand the block at ``base`` back to the kernel and move to the next."""
        assert self._ring is not None
        struct.pack_into("=I", self._ring, base + BLOCK_STATUS_OFFSET, TP_STATUS_KERNEL)
        self._block = (self._block + 1) % self.block_count

    @property
    def buffer(self) -> mmap.mmap:
        """The ring itself (the blocks :meth:`next_block` hands over are read in place)."""
        assert self._ring is not None
        return self._ring

    def next_block(self, timeout: float | None = 0.0) -> int | None:
        """Where the next block starts in :attr:`buffer` once the kernel has handed it to us, waiting up
        to ``timeout`` seconds for it (None: until it comes); None if it did not come. Give it back with
        :meth:`release` when done."""
        ring = self.buffer
        base = self._block * self.block_size
        if ring[base + BLOCK_STATUS_OFFSET] & TP_STATUS_USER or (
                self._wait(timeout) and ring[base + BLOCK_STATUS_OFFSET] & TP_STATUS_USER):
            return base
        return None

    def read(self, timeout: float | None = 0.0) -> list[Frame]:
        base = self.next_block(timeout)
        if base is None:
            return []
        frames = self.frames_of(base)
        self.release(base)
        return frames

    def packets_of(self, base: int) -> list[tuple[int, int, int]]:
        """The frames of the block at ``base`` as ``(timestamp_ns, offset, length)``: where in :attr:`buffer`
        each one's network header starts and how many bytes of it were kept, read in place (no copy), the
        outgoing copies on loopback skipped. For a reader of fixed fields; :meth:`frames_of` copies."""
        ring = self.buffer
        _, _, _, count, at, _ = BLOCK_HEADER.unpack_from(ring, base)
        unpack, loopback, pkttype_at = FRAME_HEADER.unpack_from, self.loopback_index, SOCKADDR_LL_OFFSET + 10
        ifindex_at = SOCKADDR_LL_OFFSET + 4
        packets = []
        at += base
        for _ in range(count):
            following, sec, nsec, kept, _, _, mac, net = unpack(ring, at)
            if not (ring[at + pkttype_at] == PACKET_OUTGOING
                    and int.from_bytes(ring[at + ifindex_at:at + ifindex_at + 4], "little") == loopback):
                packets.append((sec * 1_000_000_000 + nsec, at + net, kept - (net - mac)))
            at += following
        return packets

    def read_stamped(self, timeout: float | None = 0.0) -> StampedFrames | None:
        """:meth:`read` for a capture that only writes its frames: the next block as :class:`StampedFrames`
        (None if none came), no tuple made a frame. Not on ``any`` (no cooked header is built)."""
        base = self.next_block(timeout)
        if base is None:
            return None
        stamped = self.stamped_of(base)
        self.release(base)
        return stamped

    def stamped_of(self, base: int) -> StampedFrames:
        """The frames of the block at ``base`` as the kernel stamped them (see :class:`StampedFrames`): a
        block of frames all alike is cut in C (:meth:`_alike_stamped`), any other walked frame by frame."""
        ring = self._ring
        assert ring is not None and not self.cooked
        _, _, _, count, offset, length = BLOCK_HEADER.unpack_from(ring, base)
        at = base + offset
        return self._alike_stamped(at, count, base + length) or self._stamped_one_by_one(at, count)

    def _alike_stamped(self, at: int, count: int, end: int) -> StampedFrames | None:
        """The block's ``count`` frames from ``at`` when they are all alike (a flood's, the busy case): one
        stride between them, the same ``tp_snaplen`` and ``tp_mac``, no VLAN tag. Then they are rows of one
        ``struct`` layout, and one ``unpack`` cuts the record header and the bytes of each: no Python
        bytecode runs a frame. On ``lo`` the outgoing copies are left out by a step of two frames when they
        alternate with the incoming ones (each frame's two copies in turn, as one sender makes them), else
        by ``compress`` with a mask that ``bytes.translate`` made. None when the frames are not alike."""
        ring = self._ring
        assert ring is not None
        stride = int.from_bytes(ring[at:at + 4], sys.byteorder)
        if count < ALIKE_MIN or stride % 16 or stride < SOCKADDR_LL_OFFSET + 12 or at + count * stride > end:
            return None
        stop = at + count * stride                          # the frames are read in place: no copy of the block
        if not (all(same_in_every_frame(ring, at + offset, size, stride, count - (offset == 0))
                    for offset, size in ALIKE_FIELDS) and not ring[at + 20:stop:stride].translate(None, UNTAGGED)):
            return None
        kept, wire, mac = FRAME_SIZES.unpack_from(ring, at)
        if mac < 20 or mac + kept > stride:
            return None
        pkttypes = ring[at + SOCKADDR_LL_OFFSET + 10:stop:stride]
        first, every, keep = 0, 1, None
        if self.ifindex == self.loopback_index:             # lo (a bound socket hears its interface alone)
            keep = pkttypes.translate(NOT_OUTGOING)
            if keep == (b"\0\1" * (count // 2 + 1))[keep[0]:keep[0] + count]:      # out, in, out, in...
                first, every, keep = 1 - keep[0], 2, None
        if keep is None:
            pkttypes = pkttypes[first::every]
            rows = frame_rows(stride, mac, kept, len(pkttypes), every).unpack_from(ring, at + first * stride)
        else:
            fields = bytearray(2 * count)                   # each frame's two fields kept or left out
            fields[0::2] = fields[1::2] = keep
            rows = tuple(compress(frame_rows(stride, mac, kept, count).unpack_from(ring, at), fields))
            pkttypes = pkttypes.translate(None, OUTGOING)
        if same_in_every_frame(ring, at + 16, 4, stride, count):               # tp_len
            return StampedFrames(b"".join(rows), pkttypes, len(pkttypes) * wire)
        headers = memoryview(b"".join(rows[0::2])).cast("I")                 # tp_sec, tp_nsec, tp_snaplen, tp_len
        return StampedFrames(b"".join(rows), pkttypes, sum(headers[3::4]))

    def _stamped_one_by_one(self, at: int, count: int) -> StampedFrames:
        """The block's frames walked one by one, each ``tpacket3_hdr`` saying where the next one starts."""
        ring = self._ring
        assert ring is not None
        unpack, loopback, outgoing = FRAME_LENGTHS_AND_ADDRESS.unpack_from, self.loopback_index, PACKET_OUTGOING
        parts: list[bytes] = []
        pkttypes = bytearray()
        extend, append, wire_bytes = parts.extend, pkttypes.append, 0
        for _ in range(count):
            following, kept, length, status, mac, ifindex, pkttype = unpack(ring, at)
            if pkttype != outgoing or ifindex != loopback:
                mac += at
                if status & TP_STATUS_VLAN_VALID and kept >= VLAN_OFFSET:     # the tag the kernel took out
                    data = self.tagged(at, status, ring[mac:mac + kept])
                    length += VLAN_TAG_LEN
                    extend((PCAP_RECORD.pack(*STAMP.unpack_from(ring, at + 4), len(data), length), data))
                else:
                    extend((ring[at + 4:at + 20], ring[mac:mac + kept]))  # tp_sec, tp_nsec, tp_snaplen, tp_len
                wire_bytes += length
                append(pkttype)
            at += following
        return StampedFrames(b"".join(parts), bytes(pkttypes), wire_bytes)

    def frames_of(self, base: int) -> list[Frame]:
        """Every frame in the block at ``base``: each ``tpacket3_hdr`` says where the next one starts.
        The hot loop of a busy capture: one unpack of the header and address a frame, one slice of its bytes."""
        ring = self._ring
        assert ring is not None
        _, _, _, count, offset, _ = BLOCK_HEADER.unpack_from(ring, base)
        unpack, snaplen, cooked = FRAME_AND_ADDRESS.unpack_from, self.snaplen, self.cooked
        loopback = self.loopback_index
        frames: list[Frame] = []
        append = frames.append
        at = base + offset
        for _ in range(count):
            following, sec, nsec, kept, length, status, mac, net, ifindex, pkttype = unpack(ring, at)
            if pkttype == PACKET_OUTGOING and ifindex == loopback:
                at += following
                continue
            if cooked:
                _, protocol, ifindex, hatype, _, halen, address = SOCKADDR_LL.unpack_from(ring, at + SOCKADDR_LL_OFFSET)
                data = (cooked_header(socket.ntohs(protocol), ifindex, hatype, pkttype, address[:halen])
                        + ring[at + net:at + net + min(kept, snaplen - COOKED_LENGTH)])
                length += COOKED_LENGTH
            else:
                mac += at
                data = ring[mac:mac + (kept if kept < snaplen else snaplen)]
                if status & TP_STATUS_VLAN_VALID and kept >= VLAN_OFFSET:
                    data, length = self.tagged(at, status, data), length + VLAN_TAG_LEN
            append((sec * 1_000_000_000 + nsec, data, length, pkttype))
            at += following
        return frames

    def tagged(self, at: int, status: int, data: bytes) -> bytes:
        """``data``, the frame whose header is at ``at``, with its VLAN tag (``hv1``) put back and cut to
        the snap length again."""
        ring = self._ring
        assert ring is not None
        tci, tpid = VLAN_FIELDS.unpack_from(ring, at + VLAN_FIELDS_OFFSET)
        return with_vlan_tag(data, tci, vlan_tpid(status, tpid))[:self.snaplen]

    def close(self) -> None:
        super().close()
        if self._ring is not None:
            self._ring.close()
            self._ring = None


MECHANISMS = {"ring": RingCapture, "recvfrom": RecvCapture}


def open_capture(interface: str = "lo", mechanism: str = "ring", snaplen: int = DEFAULT_SNAPLEN,
                 promiscuous: bool = False, program: BpfProgram | None = None, buffer_size: int = DEFAULT_BUFFER,
                 loopback_twice: bool = False) -> CaptureSocket:
    """A capture socket of the ``mechanism`` asked (``ring``, ``recvfrom``; ``auto``: the ring, else
    ``recvfrom`` where the kernel refuses a ring)."""
    if mechanism not in (*MECHANISMS, "auto"):
        raise InputError(f"mechanism {mechanism!r}: choose ring, recvfrom or auto")
    if mechanism == "recvfrom":
        return RecvCapture(interface, snaplen, promiscuous, program, loopback_twice, buffer_size)
    try:
        return RingCapture(interface, snaplen, promiscuous, program, loopback_twice, buffer_size)
    except OSError as exc:
        if mechanism == "ring" or exc.errno not in (errno.EINVAL, errno.ENOPROTOOPT, errno.ENOMEM):
            raise
        return RecvCapture(interface, snaplen, promiscuous, program, loopback_twice, buffer_size)
