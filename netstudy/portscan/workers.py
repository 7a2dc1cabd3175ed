"""A scan's ports split across worker processes, one per core, and the records they settle brought back.

A connect or SYN scan of a host on the same machine is bound by CPU, most of it the kernel's work in
``connect()`` / ``sendto()``: one process keeps one core busy. :class:`Workers` forks ``count`` children
(``fork(2)``: each starts with the parent's modules and data, nothing to import again), each running
``job(number, outbox)`` with its own sockets on the shares of the work it takes (:class:`Shares`: the
ports, cut by :func:`share_bounds`), and the parent reads what they send through a pipe each:
length-prefixed pickles (:class:`Outbox`). Settled records travel as columns of numbers in an array
(:class:`Packer`), filed column-wise in the parent (:func:`unpack` into a
:class:`~netstudy.portscan.columns.RecordColumns`): no object per record on the parent's side.

A child stops at SIGINT or SIGTERM (Ctrl-C reaches the whole process group) by setting the flag
``stop_requested`` that its job watches; it always ends with ``os._exit``, never returning into the
parent's code. :meth:`Workers.close` stops and reaps every child (no orphan, no zombie).
"""
from __future__ import annotations

import contextlib
import fcntl
import gc
import operator
import os
import pickle
import selectors
import signal
import struct
import sys
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from netstudy.portscan.columns import COLUMN_FIELDS, NO_VALUE, STATE_CODE, RecordColumns, state_code
from netstudy.portscan.core import PortRecord, State, paused_collection

_LENGTH = struct.Struct("!I")
PIPE_SIZE = 1 << 20          # bytes a pipe holds (Linux's default limit, /proc/sys/fs/pipe-max-size)
REAP_WAIT = 2.0              # seconds a stopped child gets to send what it has and exit, before SIGKILL
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def usable_cores() -> int:
    """How many CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class Shares:
    """The numbers 0 .. ``count`` - 1, each taken once, by whichever process asks first (processes forked
    after it is made): a scan's ports cut in shares that idle workers take (:meth:`take`), so that all
    finish together however the machine shares its cores among them. The numbers wait in a pipe,
    written at once; a read of two bytes from a pipe that holds them takes both, under the pipe's lock
    (pipe(7)), so two workers never get the same one."""

    def __init__(self, count: int) -> None:
        self.fd, write = os.pipe()
        try:
            with contextlib.suppress(OSError, AttributeError):
                fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
            data = memoryview(array("H", range(count)).tobytes())
            while data:
                data = data[os.write(write, data):]
        finally:
            os.close(write)

    def take(self) -> int | None:
        """The next number no process has taken; None when none is left."""
        data = os.read(self.fd, 2)
        return int.from_bytes(data, sys.byteorder) if len(data) == 2 else None

    def close(self) -> None:
        os.close(self.fd)


def share_bounds(length: int, parts: int, wanted: int, most: int = 1 << 15) -> list[tuple[int, int]]:
    """``range(length)`` cut in contiguous shares of ``wanted`` items (fewer for the last), at least
    ``parts`` of them and at most ``most`` (what :class:`Shares` numbers)."""
    size = max(min(wanted, -(-length // parts)), -(-length // most), 1)
    return [(start, min(start + size, length)) for start in range(0, length, size)]


RECORD_FIELDS = ("index", *COLUMN_FIELDS)       # what a worker sends of a record: numbers only
_index = operator.attrgetter("index")
_FIELDS = operator.attrgetter("index", "state", "reason", "attempts", "requeued", "sent_ns", "received_ns", "rtt_ns",
                              "ttl")
_NONE_AS_NO_VALUE = {None: NO_VALUE}


class Packer:
    """A worker's settled records (``add``, ``extend``), sent as one message (:meth:`message`): each of
    :data:`RECORD_FIELDS` as a column of numbers, the columns one after another in one ``array('q')``
    sent as bytes (a reason as its place in the message's list of reason texts, None as NO_VALUE),
    and the send times of the records sent more than once. Each column is made in one pass over the
    batch (a tuple per record, pickled, cost the parent a third of its time to unpickle and make
    records of; an array row per record, the worker a fifth of its Python). A record's index is its
    place in the whole scan of ``width`` hosts: its port's place in the worker's table is mapped
    through ``places``, the places of the worker's ports in the whole scan's."""

    def __init__(self, width: int = 1, places: Sequence[int] | None = None) -> None:
        self.width, self.places = width, places
        self.records: list[PortRecord] = []
        self.add, self.extend = self.records.append, self.records.extend
        self.reasons: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.records)

    def message(self) -> tuple[str, bytes, tuple[str, ...], dict[int, list[int]]]:
        """``("records", columns, reason texts, send times)``, and the packer emptied for the next batch."""
        records, width, places, reasons = self.records, self.width, self.places, self.reasons
        records.sort(key=_index)         # in the order of the whole scan's too: shares are taken in order
        if not records:
            return "records", b"", (), {}
        # one column a field, each made by C loops (map, zip) with no Python code per record but the two
        # that must look into a record's send times or place it in the whole scan
        index, state, reason, attempts, requeued, sent, received, rtt, ttl = zip(*map(_FIELDS, records), strict=True)
        if places is not None:
            index = tuple([places[i // width] * width + i % width for i in index])
        for text in set(reason).difference(reasons):
            reasons[text] = len(reasons)
        columns = array("q", index)
        columns += array("q", map(STATE_CODE.__getitem__, state))
        columns += array("q", map(reasons.__getitem__, reason))
        columns += array("q", attempts)
        columns += array("q", requeued)
        columns += array("q", [times[-1] if times else NO_VALUE for times in sent])
        for values in (received, rtt, ttl):
            columns += array("q", map(_NONE_AS_NO_VALUE.get, values, values))
        sent_before = {at: times for at, times in zip(index, sent, strict=True) if len(times) > 1}
        records.clear()
        return "records", columns.tobytes(), tuple(reasons), sent_before


def unpack(message: tuple[str, bytes, tuple[str, ...], dict[int, list[int]]], columns: RecordColumns) -> list[int]:
    """File a worker's records in ``columns``; returns the indices of those settled (not QUEUED: never
    probed, the scan stopped)."""
    _, data, reasons, sent_before = message
    rows = array("q")
    rows.frombytes(data)
    count = len(rows) // len(RECORD_FIELDS)
    indices = rows[:count]
    fields: dict[str, Sequence[int]] = {name: rows[at * count:(at + 1) * count]
                                        for at, name in enumerate(RECORD_FIELDS) if at}
    fields["reason"] = list(map([columns.reason_code(text) for text in reasons].__getitem__, fields["reason"]))
    columns.put(indices, fields)
    columns.sent_before.update(sent_before)
    queued = state_code(State.QUEUED)
    return [index for index, state in zip(indices, fields["state"], strict=True) if state != queued]


class Outbox:
    """A child's end of its pipe: ``send(message)`` writes one length-prefixed pickle (blocking);
    ``close()`` ends the pipe (the parent reads its end) before the child has finished tearing down."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def close(self) -> None:
        os.close(self.fd)

    def send(self, message: Any) -> None:
        data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        view = memoryview(_LENGTH.pack(len(data)) + data)
        while view:
            view = view[os.write(self.fd, view):]


class Workers:
    """``count`` child processes, each running ``job(number, outbox)``; :meth:`messages` yields
    ``(number, message)`` as they arrive, :meth:`stop` asks every child to stop, :meth:`close` reaps them.
    A job that raises sends ``("error", exception)`` and its child exits."""

    stop_requested = False             # in a child: set by SIGINT / SIGTERM, watched by its job

    def __init__(self, job: Callable[[int, Outbox], None], count: int) -> None:
        self.pids: dict[int, int] = {}                  # worker number -> pid, while not reaped
        self.selector = selectors.DefaultSelector()
        self.buffers: dict[int, bytearray] = {}
        self.finished: set[int] = set()                 # workers whose pipe reached its end
        gc.freeze()                 # the parent's objects out of the collector's sight: a child's collections
        try:                        # would touch (and so copy) every page of the heap they share
            for number in range(count):
                self._start(job, number)
        except BaseException:
            self.close()
            raise
        finally:
            gc.unfreeze()

    def _start(self, job: Callable[[int, Outbox], None], number: int) -> None:
        read, write = os.pipe()
        with contextlib.suppress(OSError, AttributeError):    # room for a worker's records: it never waits on us
            fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        # a stop signal that comes while a child starts waits until the child has its own handlers: the
        # parent's (the CLI's raises KeyboardInterrupt) would break Python's own after-fork work
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            pid = os.fork()
        except BaseException:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            raise
        if pid == 0:                                    # the child: never returns
            status = 1
            try:
                for signum in STOP_SIGNALS:
                    signal.signal(signum, _request_stop)
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
                os.close(read)
                for fd in list(self.buffers):           # the pipes of the workers started before this one
                    os.close(fd)
                gc.disable()            # a short life; the collector, run every 700 allocations, would
                outbox = Outbox(write)  # take a third of the time spent packing and pickling records
                try:
                    job(number, outbox)
                except Exception as exc:                # the parent re-raises it (a missing privilege...)
                    outbox.send(("error", exc))
                status = 0
            except BaseException:                       # the parent is gone (EPIPE), or stopped mid-start
                pass
            finally:
                os._exit(status)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        os.close(write)
        self.pids[number] = pid
        self.buffers[read] = bytearray()
        self.selector.register(read, selectors.EVENT_READ, number)

    def messages(self, timeout: float) -> Iterator[tuple[int, Any]]:
        """The messages that arrive within ``timeout`` seconds (fewer if none come), as
        ``(worker number, message)``; a worker's pipe reaching its end puts it in ``finished``."""
        for key, _ in self.selector.select(timeout):
            fd, number = key.fd, key.data
            buffer = self.buffers[fd]
            data = os.read(fd, 1 << 20)
            if not data:
                self.selector.unregister(fd)
                os.close(fd)
                del self.buffers[fd]
                self.finished.add(number)
                continue
            buffer += data
            while len(buffer) >= 4 and len(buffer) >= 4 + (size := _LENGTH.unpack_from(buffer)[0]):
                try:
                    with paused_collection():
                        message = pickle.loads(buffer[4:4 + size])
                except (pickle.UnpicklingError, EOFError, ValueError, AttributeError, ImportError):
                    buffer.clear()                  # cut by an interrupt in the parent mid-read: the rest is lost
                    break
                del buffer[:4 + size]
                yield number, message

    @property
    def running(self) -> bool:
        """Whether a worker's pipe is still open (it may still send)."""
        return bool(self.buffers)

    def stop(self) -> None:
        """Ask every child still running to stop (its job ends at its next turn and sends what it has)."""
        for pid in self.pids.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def close(self) -> None:
        """Close the pipes (a child still writing gets EPIPE and exits), stop the children still running and
        wait for each (SIGKILL after REAP_WAIT s)."""
        for fd in self.buffers:
            self.selector.unregister(fd)
            os.close(fd)
        self.buffers.clear()
        self.selector.close()
        self.stop()
        deadline = time.monotonic() + REAP_WAIT
        for number, pid in list(self.pids.items()):
            while True:
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done or time.monotonic() > deadline:
                    break
                time.sleep(0.001)
            if not done:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            del self.pids[number]


def _request_stop(signum: int, frame: object) -> None:
    Workers.stop_requested = True
