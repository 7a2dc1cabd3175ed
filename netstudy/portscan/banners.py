"""What open TCP services say first (``netstudy portscan --banners``): every open port connected to at
once, the first line it sends kept; a quiet web port asked ``HEAD / HTTP/1.0`` (RFC 9110 §9.3.2)."""
from __future__ import annotations

import contextlib
import errno
import selectors
import socket
import time
from collections.abc import Iterable
from typing import Any

from netstudy.portscan.core import PortRecord, State
from netstudy.portscan.drivers import descriptor_budget

HTTP_PORTS = frozenset({80, 8000, 8008, 8080, 8088, 8888})


def grab_banners(records: Iterable[PortRecord], timeout: float = 2.0, size: int = 256) -> int:
    """Connect to every open TCP port of ``records`` at once and keep the first line its service sends
    (an SSH or SMTP greeting) in ``record.banner``; a web port (80, 8080, ...) that stays quiet is sent
    ``HEAD / HTTP/1.0`` and its status line kept. Waits ``timeout`` seconds at most. Returns how many
    banners were read."""
    todo = [r for r in records if r.protocol == "tcp" and r.state is State.OPEN]
    selector = selectors.DefaultSelector()
    sockets: dict[int, tuple[socket.socket, PortRecord, str]] = {}     # phase: connect, read, head
    for record in todo[:descriptor_budget(len(todo) or 1)]:
        sock = socket.socket()
        sock.setblocking(False)
        if sock.connect_ex((record.host, record.port)) not in (0, errno.EINPROGRESS):
            sock.close()
            continue
        selector.register(sock, selectors.EVENT_WRITE, record.index)
        sockets[record.index] = (sock, record, "connect")
    deadline = time.monotonic() + timeout
    quiet_after = time.monotonic() + min(timeout / 2, 1.0)        # then ask the web ports
    found = 0
    try:
        while sockets and (left := deadline - time.monotonic()) > 0:
            ready = selector.select(min(left, max(quiet_after - time.monotonic(), 0.01)))
            for key, _ in ready:
                sock, record, phase = sockets[key.data]
                if phase == "connect":
                    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) or sock.getsockname() == _peer(sock):
                        selector.unregister(sock)
                        sock.close()
                        del sockets[key.data]
                        continue
                    selector.modify(sock, selectors.EVENT_READ, key.data)
                    sockets[key.data] = (sock, record, "read")
                    continue
                with contextlib.suppress(OSError):
                    data = sock.recv(size)
                    text = data.decode("latin-1").strip().splitlines()
                    if text:
                        record.banner = text[0][:size]
                        found += 1
                selector.unregister(sock)
                sock.close()
                del sockets[key.data]
            if time.monotonic() >= quiet_after:
                for index, (sock, record, phase) in list(sockets.items()):
                    if phase == "read" and (record.port in HTTP_PORTS or record.service.startswith("http")) \
                            and record.port != 443:
                        with contextlib.suppress(OSError):
                            sock.send(b"HEAD / HTTP/1.0\r\n\r\n")
                        sockets[index] = (sock, record, "head")
                quiet_after = deadline
    finally:
        for sock, _, _ in sockets.values():
            selector.unregister(sock)
            sock.close()
        selector.close()
    return found


def _peer(sock: socket.socket) -> Any:
    try:
        return sock.getpeername()
    except OSError:
        return None
