"""The course's original program (the seed), kept as the notebook's first lesson; the standard library
only. A plain-text "DNS": a client sends a bare hostname in one UDP datagram, the server answers
with what ``getaddrinfo()`` says, as text. Not DNS on the wire, but a complete first socket program:
stateless UDP (one datagram each way, no connection), the loopback interface, a timeout on a blocking
``recvfrom``.

So that the toy never sends a real DNS query off this machine, the server only looks up IP literals
and names listed in ``/etc/hosts`` (usually ``localhost``); anything else gets ``error: ...``. A name
``/etc/hosts`` does not list is refused even when it is ``localhost``: ``getaddrinfo()`` would otherwise
ask the machine's DNS server (a fresh minimal Debian has no ``/etc/hosts`` at all).
"""
from __future__ import annotations

import ipaddress
import socket
import threading

__all__ = ["ToyServer", "answer_text", "hosts_names", "toy_lookup"]


def hosts_names(path: str = "/etc/hosts") -> set[str]:
    """The names ``/etc/hosts`` lists (lower case); none when the file is missing."""
    names: set[str] = set()
    try:
        with open(path) as f:
            for line in f:
                fields = line.split("#", 1)[0].split()
                names.update(n.lower() for n in fields[1:])
    except OSError:
        pass
    return names


def answer_text(hostname: str, allowed: set[str] | None = None) -> str:
    """``getaddrinfo()`` for ``hostname`` as one line: ``localhost -> 127.0.0.1, ::1``."""
    allowed = hosts_names() if allowed is None else allowed
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        if hostname.lower() not in allowed:
            return f"error: {hostname!r} is not in /etc/hosts (the toy only looks up local names)"
    try:
        infos = socket.getaddrinfo(hostname, None, type=socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        return f"error: {exc.strerror}"
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    return f"{hostname} -> {', '.join(addresses)}"


class ToyServer:
    """The toy's server: one blocking UDP socket on loopback, answering each datagram on a worker thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.2)          # so stop() is noticed; a real toy would block forever
        self.allowed = hosts_names()
        self.served = 0
        self._running = False
        self._thread = threading.Thread(target=self._serve, name="ToyServer", daemon=True)

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def _serve(self) -> None:
        while self._running:
            try:
                data, client = self.sock.recvfrom(512)
            except TimeoutError:
                continue
            except OSError:
                return
            hostname = data.decode("ascii", "replace").strip()
            self.sock.sendto(answer_text(hostname, self.allowed).encode(), client)
            self.served += 1

    def __enter__(self) -> ToyServer:
        self._running = True
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._running = False
        self._thread.join(2)
        self.sock.close()


def toy_lookup(hostname: str, port: int, server: str = "127.0.0.1", timeout: float = 2.0) -> str:
    """Send ``hostname`` to the toy server and return its one-line answer (TimeoutError if none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(hostname.encode("ascii"), (server, port))
        data, _ = sock.recvfrom(512)
    return data.decode("ascii", "replace")
