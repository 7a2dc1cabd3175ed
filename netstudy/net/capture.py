"""One TCP port's frames on one interface, captured on a thread: what a program needs to show its own TCP
connection segment by segment (the chat's session in notebook 06, a P2P link in notebook 07).

:class:`TcpPortCapture` opens a :class:`~netstudy.net.link.PacketSocket` (root or CAP_NET_RAW, else
:class:`~netstudy.errors.PrivilegeError`), attaches a classic BPF program so the kernel hands it only frames of
that port (the machine's other traffic never fills its buffer), and collects ``(wall-clock ns, frame)`` pairs
until the ``with`` block ends. Frames are read by ``netstudy.wire``; turning them into capture records is the
caller's (``netstudy.pcap.Record``).
"""
from __future__ import annotations

import select
import threading
import time

from netstudy.net.filter import attach_filter
from netstudy.net.link import PacketSocket
from netstudy.wire import TCP, decode
from netstudy.wire.bpf import compile_filter

__all__ = ["TcpPortCapture"]

LINKTYPE_ETHERNET = 1          # what a packet socket reads: whole Ethernet frames (lo's are zeros)


class TcpPortCapture:
    """``with TcpPortCapture("lo", port) as cap: ...`` then ``cap.frames``: the frames of the first TCP
    connection to or from ``port`` seen on ``iface`` while the block ran (the pair of ports of its first
    frame; another process's connection that happens to use the port is left out), as ``(wall-clock ns,
    Ethernet frame)``, in arrival order."""

    def __init__(self, iface: str, port: int) -> None:
        self.iface, self.port = iface, port
        self.frames: list[tuple[int, bytes]] = []
        self._ports: set[int] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: PacketSocket | None = None

    def __enter__(self) -> TcpPortCapture:
        sock = self._sock = PacketSocket(self.iface)
        try:
            attach_filter(sock.sock, compile_filter(f"tcp port {self.port}", LINKTYPE_ETHERNET))
            while sock.read() is not None:          # frames queued before the filter was attached
                pass
        except BaseException:
            sock.close()
            raise
        self._thread = threading.Thread(target=self._sniff, name=f"capture-{self.port}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._sock is not None:
            self._sock.close()

    def _sniff(self) -> None:
        assert self._sock is not None
        wall = time.time_ns() - time.perf_counter_ns()
        while not self._stop.is_set() or select.select([self._sock], [], [], 0)[0]:
            if not select.select([self._sock], [], [], 0.02)[0]:
                continue
            got = self._sock.read()
            if got is None:
                continue
            frame, when = got
            tcp = decode(frame, LINKTYPE_ETHERNET).get(TCP)
            if tcp is None or self.port not in (tcp.sport, tcp.dport):
                continue
            if self._ports is None:
                self._ports = {tcp.sport, tcp.dport}
            if {tcp.sport, tcp.dport} == self._ports:
                self.frames.append((wall + when, frame))
