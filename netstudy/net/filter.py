"""Kernel packet filters on a socket (socket(7) ``SO_ATTACH_FILTER``, Documentation/networking/filter.rst):
the kernel runs a classic BPF program (:func:`netstudy.wire.bpf.compile_filter`) on every packet before
queueing it, so a capture or a raw socket never sees, and never pays for, what it does not want.

What the program's offsets count from depends on the socket: an ``AF_PACKET``/``SOCK_RAW`` socket on an
Ethernet interface (``lo`` included) sees Ethernet frames (compile for link type 1); an
``AF_PACKET``/``SOCK_DGRAM`` socket sees the network header first (link type 101, raw IP); a raw IPv4
socket (``AF_INET``/``SOCK_RAW``) sees the IPv4 header first (link type 228).
"""
from __future__ import annotations

import ctypes
import socket
import struct

from netstudy.wire.bpf import BpfProgram, Instruction
from netstudy.wire.bpf.program import SKF_AD_OFF

SO_ATTACH_FILTER, SO_DETACH_FILTER = 26, 27          # asm-generic/socket.h
SKF_AD_PKTTYPE = SKF_AD_OFF + 4                      # linux/filter.h: the ancillary load of sll_pkttype
PACKET_OUTGOING = 4
BPF_LD_H_ABS, BPF_JEQ_K, BPF_RET_K = 0x28, 0x15, 0x06


def incoming_only(program: BpfProgram) -> BpfProgram:
    """``program`` behind a test that drops the packets this host sends (``sll_pkttype`` is
    ``PACKET_OUTGOING``, read by the ancillary load ``SKF_AD_PKTTYPE``), as libpcap compiles ``inbound``
    on Linux: on ``lo`` a packet socket sees each packet twice, going out and coming in, and the kernel
    then queues only the second. For a packet socket's filter (a raw IPv4 socket has no outgoing copies)."""
    head = (Instruction(BPF_LD_H_ABS, 0, 0, SKF_AD_PKTTYPE),
            Instruction(BPF_JEQ_K, 0, 1, PACKET_OUTGOING),     # outgoing: on to the next, the drop
            Instruction(BPF_RET_K, 0, 0, 0))
    return BpfProgram(head + program.instructions, f"inbound and ({program.expression})", program.linktype,
                      program.snaplen, program.live)


def attach_filter(sock: socket.socket, program: BpfProgram) -> None:
    """Attach ``program`` to ``sock``, replacing any filter it had. Packets queued before the call were not
    filtered: a caller that must see only matching packets reads and drops what is already waiting."""
    code = program.packed()
    # struct sock_fprog {unsigned short len; struct sock_filter *filter;}: the kernel copies the
    # instructions out of ``buffer`` during setsockopt, so it must live until the call returns, no longer.
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("HP", len(program), ctypes.addressof(buffer))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def detach_filter(sock: socket.socket) -> None:
    """Remove the filter attached to ``sock`` (``OSError`` ENOENT when it has none)."""
    sock.setsockopt(socket.SOL_SOCKET, SO_DETACH_FILTER, 0)
