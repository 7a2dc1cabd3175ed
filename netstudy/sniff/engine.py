"""The sockets, the clock and the thread around a capture's bookkeeping (``netstudy.sniff.core.Capture``).

:class:`Sniffer` reads frames from an interface (``netstudy.net.packet``: the TPACKET_V3 ring by
default, ``recvfrom`` for the lesson) or from a capture file (``file=``), through the same filter (a
tcpdump expression compiled to classic BPF by ``netstudy.wire.bpf``: run by the kernel on a live
socket, by :meth:`~netstudy.wire.bpf.BpfProgram.accepts` on a file's records), and optionally writes
what it keeps to a pcap file with nanosecond timestamps. Live, the filter is compiled for the socket
(``live=True``: ``vlan`` reads the tag the kernel took out of the frame) and each frame comes with its
802.1Q tag put back, as tcpdump's.

Three ways to drive it, one loop underneath:

- ``for frame in sniffer:`` in the caller's thread (the CLI: Ctrl-C ends it, the statistics still read),
  or ``for batch in sniffer.batches():`` a ring block at a time;
- ``sniffer.run()`` until a limit, then the :class:`~netstudy.sniff.core.CaptureResult`;
- ``sniffer.start()`` on a background thread and ``sniffer.stop()`` (a notebook making traffic meanwhile):
  the loop polls with a short timeout, so ``stop()`` returns within ``poll_interval``.

``sniff(...)`` is the one-call form; ``replay(path, filter)`` reads a file.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from netstudy.errors import InputError, check_number
from netstudy.net.packet import (
    DEFAULT_BUFFER,
    DEFAULT_SNAPLEN,
    LINKTYPE_LINUX_SLL2,
    MAX_SNAPLEN,
    CaptureSocket,
    RingCapture,
    StampedFrames,
    interface_linktype,
    open_capture,
)
from netstudy.pcap import CaptureReader, PcapWriter
from netstudy.sniff.core import Capture, Captured, CaptureResult, Frame, Limits
from netstudy.wire.bpf import BpfProgram, compile_filter

MAX_BUFFER = 1 << 30
Batch = TypeVar("Batch", Sequence[Frame], StampedFrames)


class Sniffer:
    """One capture, live on ``interface`` or read from ``file``: see the module's docstring.

    ``filter`` is a tcpdump expression (or a compiled :class:`~netstudy.wire.bpf.BpfProgram`); ``count``,
    ``duration`` (seconds) and ``max_bytes`` end it; ``snaplen`` bytes of each frame are kept;
    ``promiscuous`` asks the interface for every frame on its segment; ``mechanism`` is ``auto``
    (the ring where the kernel has one), ``ring`` or ``recvfrom``; ``keep`` keeps the frames in memory
    (the result's ``frames``); ``write`` a pcap file path for them; ``loopback_twice`` keeps the outgoing
    copy of each loopback frame that tcpdump skips."""

    def __init__(self, interface: str = "lo", filter: str | BpfProgram | None = None, *,  # noqa: A002
                 count: int | None = None, duration: float | None = None, max_bytes: int | None = None,
                 snaplen: int = DEFAULT_SNAPLEN, promiscuous: bool = False, mechanism: str = "auto",
                 buffer_size: int = DEFAULT_BUFFER, keep: bool = True, write: str | os.PathLike[str] | None = None,
                 file: str | os.PathLike[str] | None = None, poll_interval: float = 0.1,
                 loopback_twice: bool = False) -> None:
        check_number("snaplen", snaplen, 1, MAX_SNAPLEN, whole=True)
        check_number("buffer size", buffer_size, 4096, MAX_BUFFER, whole=True)
        check_number("poll interval", poll_interval, 0, 10, above=True)
        self.interface, self.file, self.snaplen = interface, file, snaplen
        self.capture = Capture(Limits(count, duration, max_bytes), keep)
        self.poll_interval = poll_interval
        self._reader: CaptureReader | None = None
        self._socket: CaptureSocket | None = None
        self._writer: PcapWriter | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._finished = False
        self.mechanism = mechanism
        if file is not None:
            self._reader = CaptureReader(file)
            interfaces = self._reader.interfaces
            self.linktype = interfaces[0].linktype if interfaces else 1
            self.mechanism = "file"
        else:
            self.linktype = interface_linktype(interface)
        # live, the kernel always runs a program, as libpcap's: the empty one keeps ``snaplen`` bytes
        self.program = compile_program(filter if file is not None else filter or "", self.linktype, snaplen,
                                       live=file is None)
        # on ``any`` the kernel hands over frames without a link header (SOCK_DGRAM) and libpcap rewrites the
        # program's link-layer loads for it; we give the kernel the empty program and run the filter here
        self._user_program: BpfProgram | None = None
        if file is None and interface_linktype(interface) == LINKTYPE_LINUX_SLL2 and filter:
            self._user_program, self.program = self.program, compile_filter("", self.linktype, snaplen)
        try:
            if file is None:
                self._socket = open_capture(interface, mechanism, snaplen, promiscuous, self.program,
                                            buffer_size, loopback_twice)
                self.mechanism = self._socket.mechanism
            if write is not None:
                self._writer = PcapWriter(write, self.linktype, snaplen, nanosecond=True)
        except BaseException:
            self.close()
            raise

    # -- the loop
    def batches(self) -> Iterator[Sequence[Frame]]:
        """The frames kept, a read at a time (a ring block's worth), as ``(timestamp_ns, data, length,
        pkttype)`` tuples: the fast way through a busy capture (``-w`` without printing)."""
        return self._live() if self._socket is not None else self._replay()

    def __iter__(self) -> Iterator[Captured]:
        linktype = self.linktype
        for batch in self.batches():
            for stamp, data, length, pkttype in batch:
                yield Captured(stamp, data, length, pkttype, linktype)

    def _kept(self, batch: Sequence[Frame]) -> Sequence[Frame]:
        kept = self.capture.receive_batch(batch, self.linktype, time.monotonic_ns())
        if self._writer is not None and kept:
            self._writer.write_batch(kept)
        return kept

    def _live(self) -> Iterator[Sequence[Frame]]:
        return self._loop(self._read_frames, self._kept)

    def _read_frames(self, timeout: float | None) -> Sequence[Frame]:
        sock = self._socket
        assert sock is not None
        batch: Sequence[Frame] = sock.read(timeout)
        if self._user_program is not None:
            accepts = self._user_program.accepts
            batch = [frame for frame in batch if accepts(frame[1], frame[2])]
        return batch

    def _written(self, stamped: StampedFrames) -> StampedFrames:
        assert self._writer is not None
        if self.capture.receive_counted(len(stamped), stamped.wire_bytes, stamped.pkttypes):
            self._writer.write_records(stamped.records, len(stamped))
        return stamped

    def _loop(self, read: Callable[[float | None], Batch | None], file: Callable[[Batch], Batch]) -> Iterator[Batch]:
        """The live loop: ``read`` a ring block (or a recvfrom burst) at a time, waiting at most
        ``poll_interval`` so ``stop()`` and the duration are noticed, and ``file`` what came."""
        capture = self.capture
        capture.start(time.monotonic_ns())
        try:
            while not capture.expire(time.monotonic_ns()):
                if self._stopping.is_set():
                    capture.stop()
                    break
                left = capture.seconds_left(time.monotonic_ns())
                batch = read(self.poll_interval if left is None else min(self.poll_interval, left))
                if batch:
                    yield file(batch)
        finally:
            self._finish()

    def _replay(self) -> Iterator[Sequence[Frame]]:
        capture, reader, program, snaplen = self.capture, self._reader, self.program, self.snaplen
        assert reader is not None
        capture.start(time.monotonic_ns())
        try:
            for record in reader:
                if self._stopping.is_set() or capture.done:
                    break
                if program is not None and not program.accepts(record.data, record.length):
                    capture.refuse()
                    continue
                kept = self._kept([(record.timestamp_ns, record.data[:snaplen], record.length, None)])
                if kept:
                    yield kept
        finally:
            if not capture.done:
                capture.stop()
            self._finish()

    def _finish(self) -> None:
        """The end of the loop: the kernel's counters read, the socket and files closed."""
        if self._finished:
            return
        self._finished = True
        if not self.capture.done:
            self.capture.stop()
        if self._socket is not None:
            stats = self._socket.statistics()
            self.capture.kernel(stats.received, stats.dropped, stats.freeze_count)
        self.close()

    def run(self) -> CaptureResult:
        """Capture until a limit is reached or :meth:`stop` is called; the result. A capture that only
        writes (``keep=False``, ``write=``, no count or byte limit) on a ring takes the fast way: each
        block's frames go to the file as the kernel stamped them, with no tuple made a frame
        (:meth:`~netstudy.net.packet.RingCapture.read_stamped`)."""
        ring = self._socket
        if isinstance(ring, RingCapture) and self._writes_as_stamped():
            for _ in self._loop(ring.read_stamped, self._written):
                pass
        else:
            for _ in self.batches():
                pass
        return self.result()

    def _writes_as_stamped(self) -> bool:
        """Whether the ring's frame headers can be written as they are: a nanosecond pcap file on a
        little-endian host, nothing kept, no count or byte limit, no filter run here, no cooked header."""
        limits = self.capture.limits
        return (self._writer is not None and self._writer.nanosecond and sys.byteorder == "little"
                and not self.capture.keep and limits.count is None and limits.max_bytes is None
                and self._user_program is None and self.linktype != LINKTYPE_LINUX_SLL2)

    # -- in the background
    def start(self) -> Sniffer:
        """Run the capture on a background thread (a notebook's cell returns at once)."""
        if self._thread is not None:
            raise InputError("this capture is already running")
        self._thread = threading.Thread(target=self.run, name="netstudy-sniff", daemon=True)
        self._thread.start()
        return self

    def stop(self, wait: float = 2.0) -> CaptureResult:
        """End the capture (it notices within ``poll_interval``) and return its result; waits at most
        ``wait`` seconds for the background thread."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(wait)
        elif not self._finished:
            self._finish()
        return self.result()

    def wait(self, timeout: float | None = None) -> CaptureResult:
        """Wait for a background capture to reach its limit (``count``, ``duration``)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.result()

    def result(self) -> CaptureResult:
        return self.capture.result(self.file and str(self.file) or self.interface, self.mechanism, self.linktype)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- owning the socket and files
    def close(self) -> None:
        for owned in (self._socket, self._writer, self._reader):
            if owned is not None:
                owned.close()

    def __enter__(self) -> Sniffer:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._thread is not None:
            self.stop()
        elif not self._finished:
            self._finish()


def compile_program(filter: str | BpfProgram | None, linktype: int, snaplen: int,  # noqa: A002
                    live: bool = False) -> BpfProgram | None:
    """The filter as a classic BPF program for ``linktype`` frames (an expression compiled by
    ``netstudy.wire.bpf``, for a live socket's frames when ``live``: ``vlan`` reads the tag the kernel
    took out; a program as it is; None: every frame)."""
    if filter is None or not isinstance(filter, str):
        return filter
    return compile_filter(filter, linktype=linktype, snaplen=snaplen, live=live)


def sniff(interface: str = "lo", filter: str | None = None, **options: Any) -> CaptureResult:  # noqa: A002
    """Capture on ``interface`` until a limit (``count=``, ``duration=``; see :class:`Sniffer`)."""
    if not any(options.get(k) is not None for k in ("count", "duration", "max_bytes")):
        raise InputError("a capture in one call needs a limit: count=, duration= or max_bytes=")
    with Sniffer(interface, filter, **options) as sniffer:
        return sniffer.run()


def replay(path: str | os.PathLike[str], filter: str | BpfProgram | None = None,  # noqa: A002
           count: int | None = None, snaplen: int = DEFAULT_SNAPLEN) -> CaptureResult:
    """The frames of capture file ``path`` that ``filter`` accepts (the first ``count``), as a capture."""
    with Sniffer(file=path, filter=filter, count=count, snaplen=snaplen) as sniffer:
        return sniffer.run()
