"""The sockets of each scan type, one class each, as ``netstudy.portscan.engine``'s loop drives them
(:class:`Driver`): ``send(probe)``, ``poll(timeout)`` -> core :class:`~netstudy.portscan.core.Answer`
events (and :class:`~netstudy.portscan.core.AnswersAlike`: a connect scan's refused ports, one batch),
``capacity()`` (how many more probes may be in flight), ``forget(record)`` (a record settled or timed
out: release what was held for it), ``close()``.

- :class:`Connect`: a non-blocking ``connect()`` per port (``-sT``); self-connects caught; the ports
  refused within the call itself (on this host, all closed ones) handed over as one batch a turn, not
  an object each: a full-range scan's 65,000 closed ports cost the least Python they can.
- :func:`descriptor_budget`: how many sockets ``RLIMIT_NOFILE`` allows at once; :func:`is_local`.
- ``packet_drivers.py`` holds the drivers of the scans that write their own packets or read ICMP errors
  (``-sS``, ``-sU``): they need ``netstudy.net`` and ``netstudy.wire``, which a connect scan never
  imports (a fifth of its start-up).
"""
from __future__ import annotations

import _socket
import contextlib
import errno
import os
import resource
import selectors
import socket
import struct
import time
from collections.abc import Sequence
from typing import Any, Protocol

from netstudy.errors import InputError
from netstudy.portscan.core import Answer, AnswersAlike, PortRecord, Probe, connect_verdict

FD_MARGIN = 64                       # descriptors kept back for everything else the process holds
_LINGER_ZERO = struct.pack("ii", 1, 0)   # close() sends a RST, not a FIN: no TIME_WAIT for a knock
_NONBLOCKING_STREAM = socket.SOCK_STREAM | getattr(socket, "SOCK_NONBLOCK", 0)
_CLOSED, _CONN_REFUSED = connect_verdict(errno.ECONNREFUSED) or ("closed", "conn-refused")
_EINPROGRESS, _EALREADY, _ECONNREFUSED = errno.EINPROGRESS, errno.EALREADY, errno.ECONNREFUSED   # read per port


def descriptor_budget(wanted: int) -> int:
    """How many sockets a scan may hold open at once: ``wanted``, within ``RLIMIT_NOFILE``. The soft
    limit is raised towards the hard one first if that helps (as nmap does); what is already open and
    a margin are kept back."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        in_use = len(os.listdir("/proc/self/fd"))
    except OSError:
        in_use = 32
    need = wanted + in_use + FD_MARGIN
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    if soft == resource.RLIM_INFINITY:
        return wanted
    budget = min(wanted, soft - in_use - FD_MARGIN)
    if budget < 1:
        raise InputError(f"no file descriptors left for sockets (RLIMIT_NOFILE {soft}, {in_use} in use): "
                         f"raise it with ulimit -n")
    return budget


def is_local(address: str) -> bool:
    """Whether ``address`` is this host's (loopback, or one of its interfaces)."""
    if address.startswith("127."):
        return True
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((address, 0))
        return True
    except OSError:
        return False


# -- one class per scan type: open, send a probe, read what came back ---------------------------------
class Driver(Protocol):
    """What the engine's loop asks of a scan type's sockets."""

    mechanism: str

    def capacity(self) -> int: ...

    def send(self, probe: Probe) -> None: ...

    def send_many(self, probes: list[Probe]) -> None: ...

    def poll(self, timeout: float) -> Sequence[Answer | AnswersAlike]: ...

    def forget(self, record: PortRecord) -> None: ...

    def close(self) -> None: ...


class OneAtATime:
    """``send_many`` for a driver that sends each probe as ``send`` does."""

    def send(self, probe: Probe) -> None:
        raise NotImplementedError

    def send_many(self, probes: list[Probe]) -> None:
        for probe in probes:
            self.send(probe)


class Connect:
    """A non-blocking connect() per port. A socket whose connect was refused is used again for the next
    port (a refused connect leaves it unconnected, connect(2)): no socket() and close() per closed port."""

    mechanism = "connect"

    def __init__(self, parallel: int) -> None:
        self.limit = descriptor_budget(parallel)
        self.selector = selectors.DefaultSelector()
        self.open: dict[int, Any] = {}
        self.local: list[Answer] = []
        self.spare: Any = None
        self.refused = AnswersAlike(_CLOSED, _CONN_REFUSED, [], [])

    def capacity(self) -> int:
        return self.limit - len(self.open)

    def send(self, probe: Probe) -> None:
        self.send_many([probe])

    def send_many(self, probes: list[Probe]) -> None:
        sock, queue, now = self.spare, self.local.append, time.perf_counter_ns
        refused, refused_ns = self.refused.indices.append, self.refused.received_ns.append
        for probe in probes:
            if sock is None:
                sock = _socket.socket(socket.AF_INET, _NONBLOCKING_STREAM)   # the C type: no Python wrapper
            address = (probe.host, probe.port)
            code = sock.connect_ex(address)
            if code == _EINPROGRESS:
                # asked again, connect() says how the attempt ended if it has (on loopback the answer is
                # processed before the first call returns): 0, ECONNREFUSED (the socket is then unconnected
                # again, reusable), or EALREADY while the SYN still waits for its answer
                code = sock.connect_ex(address)
            if code == _ECONNREFUSED:                    # the common case, in short: closed, socket kept
                refused(probe.index)
                refused_ns(now())
                continue
            if code == _EALREADY:
                self.selector.register(sock, selectors.EVENT_WRITE, probe)
                self.open[probe.index] = sock
            else:
                answer = self._answer(sock, probe, code)
                sock.close()
                if answer is not None:
                    queue(answer)
            sock = None
        self.spare = sock

    def _answer(self, sock: Any, probe: Probe, code: int) -> Answer | None:
        now = time.perf_counter_ns()
        if code == 0:
            try:
                if sock.getsockname() == sock.getpeername():        # connected to itself: nobody listens
                    return Answer(probe.host, probe.port, "tcp", "requeue", "self-connect", now)
            except OSError:
                pass
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
        verdict = connect_verdict(code)
        if verdict is None:
            return None
        return Answer(probe.host, probe.port, "tcp", verdict[0], verdict[1], now)

    def poll(self, timeout: float) -> list[Answer | AnswersAlike]:
        events: list[Answer | AnswersAlike] = []
        if self.refused.indices:
            events.append(self.refused)
            self.refused = AnswersAlike(_CLOSED, _CONN_REFUSED, [], [])
        events += self.local
        self.local = []
        for key, _ in self.selector.select(0 if events else timeout):
            probe: Probe = key.data
            sock: Any = key.fileobj
            answer = self._answer(sock, probe, sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
            if answer is not None:
                self._close(probe.index)
                events.append(answer)
        return events

    def _close(self, index: int) -> None:
        sock = self.open.pop(index, None)
        if sock is not None:
            self.selector.unregister(sock)
            sock.close()

    def forget(self, record: PortRecord) -> None:
        if record.index in self.open:                   # else nothing held: a closed port's socket is kept
            self._close(record.index)

    def close(self) -> None:
        for index in list(self.open):
            self._close(index)
        if self.spare is not None:
            self.spare.close()
            self.spare = None
        self.selector.close()
