"""Small listeners inside lab namespaces, all served by one selector thread of the lab's process:
a TCP port that accepts, sends a banner and echoes; a UDP port that echoes each datagram."""
from __future__ import annotations

import selectors
import socket
import threading


class Services:
    """Listening sockets (opened by the caller inside a namespace) and the thread that serves them."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector.register(self._wake_r, selectors.EVENT_READ, ("wake", b""))
        self._thread: threading.Thread | None = None
        self._stopping = False

    @staticmethod
    def listener(proto: str, port: int) -> socket.socket:
        """A dual-stack socket on every address of the current namespace (``[::]``, IPV6_V6ONLY off)."""
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(socket.AF_INET6, kind)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind(("::", port))
            if proto == "tcp":
                sock.listen(128)
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"cannot listen on {proto} port {port}: {exc.strerror}") from None
        sock.setblocking(False)
        return sock

    def add(self, sock: socket.socket, banner: bytes = b"") -> None:
        role = "accept" if sock.type == socket.SOCK_STREAM else "datagram"
        self._selector.register(sock, selectors.EVENT_READ, (role, banner))   # epoll: safe while polled
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="netstudy-lab-services", daemon=True)
            self._thread.start()

    def _serve(self) -> None:
        while not self._stopping:
            for key, _ in self._selector.select(timeout=1.0):
                role, banner = key.data
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    if role == "wake":
                        sock.recv(512)
                    elif role == "accept":
                        conn, _ = sock.accept()
                        conn.setblocking(False)
                        if banner:
                            conn.send(banner)
                        self._selector.register(conn, selectors.EVENT_READ, ("echo", b""))
                    elif role == "datagram":
                        data, peer = sock.recvfrom(65535)
                        sock.sendto(data, peer)
                    else:
                        data = sock.recv(65535)
                        if data:
                            sock.send(data)
                        else:
                            self._selector.unregister(sock)
                            sock.close()
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:           # a peer reset or a closed socket: drop that one, serve on
                    if role == "echo":
                        self._selector.unregister(sock)
                        sock.close()

    def close(self) -> None:
        """Stop the thread and close every socket (a socket would keep its namespace alive)."""
        self._stopping = True
        self._wake_w.send(b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self._selector.close()
        self._wake_w.close()
