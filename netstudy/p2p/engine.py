"""The peer's engine: a UDP discovery socket, TCP links, and one selectors loop on a worker thread.

``Peer(name)`` binds to loopback by default: its TCP listener on 127.0.0.1, its discovery socket on the
multicast group, joined on ``lo`` only, sending with TTL 0 and IP_MULTICAST_LOOP on, so several peers on one
machine find each other and nothing leaves it. ``Peer(name, iface="eth0")`` joins the group on that interface
(TTL 1: one link, never routed) and listens on every address; ``broadcast=True`` sends to the interface's
broadcast address instead (needs ``iface``), and so does a peer whose interface takes no multicast (``ip link
set eth0 multicast off``: the fallback, said in a log line). ``family=6`` (needs ``iface``) announces to the
link-local group ``ff02::4e53:5032`` joined on that interface (IPV6_JOIN_GROUP with its index,
IPV6_MULTICAST_IF, IPV6_MULTICAST_HOPS 1, IPV6_MULTICAST_LOOP on; ipv6(7)) and links to each announcer's
link-local address with its scope (``fe80::…%eth0``). IPv6 has no loopback mode: Linux does not carry IPv6
multicast over ``lo`` (no multicast route there, even with ``ip link set lo multicast on``), so ``family=6``
without an interface is refused. Use it as ``with Peer("alice") as p:`` — it works in a notebook: the loop
runs on a daemon thread, and every call into the core holds one lock.
"""
from __future__ import annotations

import contextlib
import logging
import os
import queue
import random
import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any

from netstudy.errors import InputError, check_number
from netstudy.net.link import Interface, interfaces
from netstudy.p2p.core import (
    DEFAULT_HOST,
    DISCOVERY_GROUP,
    DISCOVERY_GROUP6,
    DISCOVERY_PORT,
    Action,
    Arrival,
    Close,
    Deliver,
    Dial,
    Event,
    Log,
    Member,
    PeerNode,
    Send,
    host_port,
)

log = logging.getLogger("netstudy.p2p")
log.addHandler(logging.NullHandler())

MAX_QUEUE = 1 << 20            # bytes queued for one link before it is dropped as too slow


def iface_ipv4(iface: str) -> Interface:
    """``iface`` with its IPv4 address, network and flags (``netstudy.net.link``); InputError if it does not
    exist, is down or has no IPv4 address."""
    named = [i for i in interfaces() if i.name == iface]
    if named:
        return named[0]
    try:
        socket.if_nametoindex(iface)
    except OSError:
        raise InputError(f"no interface named {iface!r}") from None
    raise InputError(f"interface {iface!r} is down or has no IPv4 address")


IFA_F_TENTATIVE = 0x40           # if_addr.h: still in duplicate address detection (RFC 4862 5.4)


def iface_link_local(iface: str) -> str:
    """The IPv6 link-local address of ``iface`` (``fe80::…``, read from /proc/net/if_inet6, no privilege),
    or InputError saying why IPv6 discovery cannot use it: no such address, or one still tentative."""
    tentative = False
    with contextlib.suppress(OSError), open("/proc/net/if_inet6") as f:
        for line in f:
            addr, _index, _plen, scope, flags, name = line.split()
            if name == iface and int(scope, 16) == 0x20:          # IPV6_ADDR_LINKLOCAL
                if int(flags, 16) & IFA_F_TENTATIVE:
                    tentative = True
                    continue
                return socket.inet_ntop(socket.AF_INET6, bytes.fromhex(addr))
    why = ("its link-local address is still tentative (duplicate address detection: wait a second, or set "
           "net.ipv6.conf.IFACE.accept_dad=0)" if tentative else "no IPv6 link-local address (IPv6 disabled on it?)")
    raise InputError(f"interface {iface!r}: {why}; IPv6 discovery needs one")


def _mreqn(group: str, local: str, ifindex: int) -> bytes:
    return struct.pack("4s4si", socket.inet_aton(group), socket.inet_aton(local), ifindex)


@dataclass(frozen=True, slots=True)
class Record:
    """One thing that happened at this peer, for tables and figures: a delivery, a join, a leave."""
    at_ns: int
    kind: str          # "message", "join", "leave"
    name: str
    text: str
    arrival: Arrival | None = None


class _Conn:
    __slots__ = ("sock", "out", "connecting", "dial", "writing")

    def __init__(self, sock: socket.socket, dial: int | None, connecting: bool) -> None:
        self.sock, self.dial, self.connecting = sock, dial, connecting
        self.out = bytearray()
        self.writing = connecting


class Peer:
    """One peer of the chat: discovery, links and gossip around a ``PeerNode``.

    ``say(text)``, ``whisper(name, text)``, ``peers()``; what arrives lands in ``inbox`` (a queue of
    ``Record``) and in ``records`` (everything, for a notebook). ``interval`` is the heartbeat period and
    ``timeout`` the silence after which a peer is declared gone, both in seconds.
    """

    def __init__(self, name: str, *, host: str = DEFAULT_HOST, port: int = 0, iface: str | None = None,
                 group: str | None = None, discovery_port: int = DISCOVERY_PORT, broadcast: bool = False,
                 family: int = 4, interval: float = 0.5, timeout: float = 3.0, links: int | None = 2,
                 history: int = 50, peer_id: int | None = None) -> None:
        if family not in (4, 6):
            raise InputError(f"address family {family!r}: 4 or 6")
        if broadcast and iface is None:
            raise InputError("broadcast discovery needs an interface (--iface): on loopback use multicast")
        if family == 6 and broadcast:
            raise InputError("IPv6 has no broadcast (RFC 4291 2.7): IPv6 discovery is link-local multicast")
        if family == 6 and iface in (None, "lo"):
            raise InputError("IPv6 discovery needs an interface (--iface): it is link-local multicast, which Linux "
                             "does not carry over lo; on loopback use IPv4 (the default)")
        check_number("port", port, 0, 65535, whole=True)
        check_number("discovery port", discovery_port, 1, 65535, whole=True)
        check_number("interval", interval, 0, 60, above=True)
        check_number("timeout", timeout, 0, 3600, above=True)
        if links is not None:
            check_number("links", links, 1, 64, whole=True)
        if timeout <= interval:
            raise InputError(f"the timeout ({timeout:g} s) must be longer than the interval ({interval:g} s)")
        self.family, self.iface, self.discovery_port, self.broadcast = family, iface, discovery_port, broadcast
        self.group = group or (DISCOVERY_GROUP6 if family == 6 else DISCOVERY_GROUP)
        self.interval = interval
        self._af = socket.AF_INET6 if family == 6 else socket.AF_INET
        if iface is not None and host == DEFAULT_HOST:
            host = "::" if family == 6 else "0.0.0.0"
        self._bind_host = host
        self._port = port
        pid = peer_id if peer_id is not None else random.SystemRandom().randrange(1, 1 << 64)
        self.node: PeerNode[_Conn] = PeerNode(name, pid, port, links=links, suspect=min(3 * interval, timeout),
                                              timeout=timeout, history=history)
        self.inbox: queue.Queue[Record] = queue.Queue()
        self.records: list[Record] = []
        self.logs: list[str] = []
        self._lock = threading.RLock()
        self._sel = selectors.DefaultSelector()
        self._conns: dict[socket.socket, _Conn] = {}
        self._listener: socket.socket | None = None
        self._udp: socket.socket | None = None
        self._dest: tuple[Any, ...] = (self.group, discovery_port)
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._next_announce = 0

    # -- lifecycle
    @property
    def name(self) -> str:
        return self.node.name

    @property
    def peer_id(self) -> int:
        return self.node.peer_id

    @property
    def address(self) -> tuple[str, int]:
        if self._listener is None:
            raise RuntimeError("the peer is not started")
        host, port = self._listener.getsockname()[:2]
        return host, port

    @property
    def discovery(self) -> str:
        """Where the announcements go: ``239.255.42.99:47100``, ``[ff02::4e53:5032%eth0]:47100``, a broadcast
        address (known once started)."""
        host = f"{self._dest[0]}%{self.iface}" if self.family == 6 else self._dest[0]
        return host_port(host, self.discovery_port)

    def start(self) -> Peer:
        listener = socket.socket(self._af, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self._bind_host, self._port))
        except OSError as exc:
            listener.close()
            raise type(exc)(f"cannot listen on {host_port(self._bind_host, self._port)}: {exc.strerror}") from None
        listener.listen(64)
        listener.setblocking(False)
        self._listener = listener
        self.node.port = listener.getsockname()[1]
        try:
            self._udp = self._discovery_socket()
        except OSError:
            listener.close()
            raise
        self._sel.register(listener, selectors.EVENT_READ, "accept")
        self._sel.register(self._udp, selectors.EVENT_READ, "udp")
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread = threading.Thread(target=self._loop, name=f"p2p-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _discovery_socket(self) -> socket.socket:
        s = socket.socket(self._af, socket.SOCK_DGRAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self.family == 6:
                self._join6(s)
            elif self.iface is None:                            # loopback: the group on lo, TTL 0
                self._join4(s, DEFAULT_HOST, socket.if_nametoindex("lo"), ttl=0)
            else:
                nic = iface_ipv4(self.iface)
                if not nic.multicast and not self.broadcast:
                    self._log(f"{nic.name} takes no multicast (IFF_MULTICAST off): announcing by broadcast instead")
                    self.broadcast = True
                if self.broadcast:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, nic.name.encode())
                    s.bind(("", self.discovery_port))
                    self._dest = (str(nic.network.broadcast_address), self.discovery_port)
                else:
                    self._join4(s, nic.address, nic.index, ttl=1)
            s.setblocking(False)
        except OSError as exc:
            s.close()
            where = host_port(self._dest[0] if self.broadcast else self.group, self.discovery_port)
            raise type(exc)(f"cannot open discovery on {where}: {exc.strerror or exc}") from None
        except InputError:
            s.close()
            raise
        return s

    def _join4(self, s: socket.socket, local: str, index: int, ttl: int) -> None:
        """The IPv4 discovery socket: the group joined on one interface (ip(7))."""
        s.bind((self.group, self.discovery_port))      # only datagrams sent to the group
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, _mreqn(self.group, local, index))
        # ip_mreqn (ip(7)): this interface, and this address as the source of what we send
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, _mreqn(self.group, local, index))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)

    def _join6(self, s: socket.socket) -> None:
        """The IPv6 discovery socket: the link-local group joined on the interface (ipv6(7))."""
        assert self.iface is not None
        try:
            index = socket.if_nametoindex(self.iface)
        except OSError:
            raise InputError(f"no interface named {self.iface!r}") from None
        iface_link_local(self.iface)                 # refuse early, saying why, when there is none
        s.bind((self.group, self.discovery_port, 0, index))     # only datagrams to the group, on this link
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                     socket.inet_pton(socket.AF_INET6, self.group) + struct.pack("@I", index))   # ipv6_mreq
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 1)
        self._dest = (self.group, self.discovery_port, 0, index)

    def _sender(self, addr: tuple[Any, ...]) -> str:
        """A datagram's source as text: an IPv6 link-local address with its scope (``fe80::1%eth0``)."""
        host = str(addr[0])
        if self.family == 6 and len(addr) == 4 and addr[3] and "%" not in host:
            with contextlib.suppress(OSError):
                host = f"{host}%{socket.if_indextoname(addr[3])}"
        return host

    def __enter__(self) -> Peer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, *, quiet: bool = False) -> None:
        """Leave: a bye (unless ``quiet``, to play a crash), close every link, stop the thread."""
        if self._thread is None:
            return
        with self._lock:
            self._stopping = True
            if not quiet and self._udp is not None:
                with contextlib.suppress(OSError):
                    self._udp.sendto(self.node.farewell(), self._dest)
            self._do(self.node.shutdown())
        self._wake()
        self._thread.join(5)
        self._thread = None
        for sock in [*self._conns, self._listener, self._udp, self._wake_r, self._wake_w]:
            if sock is not None:
                sock.close()
        self._conns.clear()
        self._sel.close()

    # -- what a user calls
    def say(self, text: str) -> None:
        with self._lock:
            self._do(self.node.say(text, time.monotonic_ns()))
        self._wake()

    def whisper(self, name: str, text: str) -> None:
        with self._lock:
            self._do(self.node.whisper(name, text, time.monotonic_ns()))
        self._wake()

    def peers(self) -> list[Member]:
        """The members not gone, as a copy."""
        with self._lock:
            return [Member(**{f: getattr(m, f) for f in Member.__slots__}) for m in self.node.alive()]

    def table(self) -> list[dict[str, Any]]:
        """Every member this peer knows (gone ones too): name, state, address, seconds since heard."""
        now = time.monotonic_ns()
        with self._lock:
            return [{"peer": self.node.display_name(m.peer_id), "id": f"{m.peer_id:016x}", "state": m.state.value,
                     "address": host_port(m.host, m.port), "heard_s_ago": round((now - m.last_heard_ns) / 1e9, 2),
                     "heartbeats": m.heartbeats}
                    for m in sorted(self.node.members.values(), key=lambda m: (m.name, m.peer_id))]

    def neighbours(self) -> list[int]:
        with self._lock:
            return self.node.neighbours()

    def messages(self) -> list[Arrival]:
        with self._lock:
            return self.node.messages()

    def wait_for(self, condition: Any, timeout: float = 10.0) -> bool:
        """Poll ``condition(peer)`` until true or ``timeout`` seconds: True if it came true."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                if condition(self):
                    return True
            time.sleep(0.02)
        with self._lock:
            return bool(condition(self))

    def __repr__(self) -> str:
        state = host_port(*self.address) if self._listener and self._thread else "stopped"
        return f"<Peer {self.name} {self.peer_id:016x} {state}, {len(self.node.alive())} peers>"

    # -- the loop
    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _loop(self) -> None:
        while not self._stopping:
            now = time.monotonic_ns()
            with self._lock:
                if now >= self._next_announce:
                    self._announce(now)
                self._do(self.node.expire(now))
                wait = max(0.0, min((self._next_announce - now) / 1e9, 0.1))
            for key, mask in self._sel.select(wait):
                with self._lock:
                    if self._stopping:
                        break
                    self._ready(key, mask)

    def _announce(self, now: int) -> None:
        assert self._udp is not None
        # jitter of +-10 %: peers started together do not announce in lock step
        self._next_announce = now + int(self.interval * 1e9 * random.uniform(0.9, 1.1))
        try:
            self._udp.sendto(self.node.announce(now), self._dest)
        except OSError as exc:        # the interface is down (a partition): keep going, say it once
            self._log(f"announcement not sent: {exc.strerror or exc}")

    def _ready(self, key: selectors.SelectorKey, mask: int) -> None:
        now = time.monotonic_ns()
        if key.data == "wake":
            with contextlib.suppress(OSError):
                self._wake_r.recv(4096)
        elif key.data == "udp":
            assert self._udp is not None
            for _ in range(64):
                try:
                    data, addr = self._udp.recvfrom(2048)
                except OSError:
                    break
                self._do(self.node.receive_announcement(data, self._sender(addr), now))
        elif key.data == "accept":
            assert self._listener is not None
            try:
                sock, _addr = self._listener.accept()
            except OSError:
                return
            self._adopt(sock, None, connecting=False)
            self._do(self.node.link_opened(self._conns[sock], now))
        else:
            conn: _Conn = key.data
            if conn.connecting:
                err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                assert conn.dial is not None
                if err:
                    self._drop(conn)
                    self._do(self.node.dial_failed(conn.dial, os.strerror(err)))
                    return
                conn.connecting = False
                self._do(self.node.link_opened(conn, now, dialed=conn.dial))
                return
            if mask & selectors.EVENT_READ:
                try:
                    data = conn.sock.recv(65536)
                except BlockingIOError:
                    data = None
                except OSError as exc:
                    self._lost(conn, (exc.strerror or str(exc)).lower(), now)
                    return
                if data == b"":
                    self._lost(conn, "connection closed", now)
                    return
                if data:
                    self._do(self.node.receive(conn, data, now))
            if mask & selectors.EVENT_WRITE and conn.sock in self._conns:
                self._flush(conn)

    def _adopt(self, sock: socket.socket, dial: int | None, connecting: bool) -> _Conn:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _Conn(sock, dial, connecting)
        self._conns[sock] = conn
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if connecting else 0)
        self._sel.register(sock, events, conn)
        return conn

    def _do(self, actions: list[Action[_Conn]]) -> None:
        now = time.monotonic_ns()
        for a in actions:
            if isinstance(a, Send):
                if a.link.sock in self._conns:
                    a.link.out += a.data
                    self._flush(a.link)
            elif isinstance(a, Close):
                self._drop(a.link)
                self._do(self.node.link_closed(a.link, a.reason, now))
            elif isinstance(a, Dial):
                self._dial(a, now)
            elif isinstance(a, Deliver):
                msg = a.arrival.message
                self._record(Record(a.arrival.at_ns, "message", self.node.display_name(msg.origin), msg.text,
                                    a.arrival))
            elif isinstance(a, Event):
                self._record(Record(now, a.kind, a.name, a.reason))
            elif isinstance(a, Log):
                self._log(a.message)

    def _record(self, rec: Record) -> None:
        self.records.append(rec)
        self.inbox.put(rec)

    def _log(self, message: str) -> None:
        self.logs.append(message)
        del self.logs[:-1000]
        log.info("%s: %s", self.name, message)

    def _dial(self, a: Dial, now: int) -> None:
        sock = socket.socket(self._af, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            # "fe80::1%eth0": getaddrinfo turns the scope into the index a (host, port) tuple would lose
            where = socket.getaddrinfo(a.host, a.port, self._af, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
            err = sock.connect_ex(where[0][4])
            why = os.strerror(err)
        except OSError as exc:                          # socket.gaierror: not an address of this family
            err, why = -1, exc.strerror or str(exc)
        if err not in (0, 115):           # 115: EINPROGRESS
            sock.close()
            self._do(self.node.dial_failed(a.peer_id, why))
            return
        self._adopt(sock, a.peer_id, connecting=True)

    def _flush(self, conn: _Conn) -> None:
        if conn.connecting:
            return
        try:
            while conn.out:
                sent = conn.sock.send(conn.out)
                del conn.out[:sent]
        except BlockingIOError:
            pass
        except OSError as exc:
            self._lost(conn, f"send failed: {(exc.strerror or str(exc)).lower()}", time.monotonic_ns())
            return
        if len(conn.out) > MAX_QUEUE:
            self._lost(conn, "neighbour not reading", time.monotonic_ns())
            return
        want = bool(conn.out)
        if want != conn.writing:
            conn.writing = want
            self._sel.modify(conn.sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if want else 0), conn)

    def _lost(self, conn: _Conn, reason: str, now: int) -> None:
        self._drop(conn)
        self._do(self.node.link_closed(conn, reason, now))

    def _drop(self, conn: _Conn) -> None:
        if self._conns.pop(conn.sock, None) is None:
            return
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(conn.sock)
        if conn.out and not conn.connecting:
            with contextlib.suppress(OSError):
                conn.sock.send(conn.out)          # a last try: what is queued is best effort
        conn.sock.close()


def run_terminal(peer: Peer, render: Any, peers_text: Any, help_text: str, stdin: Any = None,
                 stdout: Any = None) -> int:
    """The interactive peer: a thread prints what arrives (``render(kind, name, text, arrival)``), this
    loop reads lines: ``/peers``, ``/msg NAME text``, ``/quit``, anything else said to everyone. Ends on
    ``/quit``, end of input or Ctrl-C, always with a bye."""
    import sys
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    lock = threading.Lock()
    done = threading.Event()

    def show(text: str) -> None:
        with lock:
            print(text, file=stdout, flush=True)

    def receiving() -> None:
        while not done.is_set():
            try:
                rec = peer.inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            if rec.arrival is not None and rec.arrival.via is None:
                continue                    # what we said ourselves: the terminal already shows it
            show(render(rec.kind, rec.name, rec.text, rec.arrival))

    with peer:
        show(f"*** {peer.name} on {host_port(*peer.address)}, id {peer.peer_id:016x}; "
             f"discovery {peer.discovery} ({peer.iface or 'loopback'}). {help_text}")
        thread = threading.Thread(target=receiving, name="p2p-terminal", daemon=True)
        thread.start()
        try:
            for raw in stdin:
                line = raw.rstrip("\r\n")
                if not line.strip():
                    continue
                command, _, rest = line.partition(" ")
                try:
                    if command == "/quit":
                        break
                    if command == "/peers":
                        show(peers_text(peer.table()))
                    elif command == "/msg":
                        to, _, text = rest.strip().partition(" ")
                        if not to or not text:
                            show("*** usage: /msg NAME text")
                        else:
                            peer.whisper(to, text)
                    elif command.startswith("/") and not command.startswith("//"):
                        show(f"*** unknown command {command}; {help_text}")
                    else:
                        peer.say(line.removeprefix("/"))
                except InputError as exc:
                    show(f"*** {exc}")
        except KeyboardInterrupt:
            pass
        finally:
            done.set()
            thread.join(1)
    show("*** bye")
    return 0
