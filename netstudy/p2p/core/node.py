"""A peer as a state machine: membership, links, gossip, Lamport time (``PeerNode``), its records and
actions. See ``netstudy.p2p.core`` for the protocol and its guarantees."""
from __future__ import annotations

import collections
import enum
import json
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from netstudy.errors import DecodeError, InputError
from netstudy.p2p.core.announce import (
    BYE,
    HOP_LIMIT,
    MAX_LAMPORT_JUMP,
    MAX_LINE,
    MAX_PEERS,
    MAX_TEXT,
    NS_PER_S,
    SEEN,
    check_name,
    decode_announcement,
    encode_announcement,
    host_port,
    name_problem,
)
from netstudy.states import StateTable
from netstudy.wire.lines import InvalidUtf8, Line, LineFramer, LineTooLong, encode_line

L = TypeVar("L", bound=Hashable)      # what an engine uses to name a link (its own object, an int...)


# -------------------------------------------------------------------------------------------- states
class PeerState(enum.Enum):
    ALIVE = "alive"          # heard within `suspect` seconds
    SUSPECT = "suspect"      # silent for a while: still a member, links kept
    GONE = "gone"            # silent past `timeout`, or said bye: links closed, kept in the table to show


PEER: StateTable[PeerState] = StateTable(PeerState.ALIVE, {
    (PeerState.ALIVE, "heard"): PeerState.ALIVE,
    (PeerState.SUSPECT, "heard"): PeerState.ALIVE,
    (PeerState.GONE, "heard"): PeerState.ALIVE,
    (PeerState.ALIVE, "silence"): PeerState.SUSPECT,
    (PeerState.ALIVE, "timeout"): PeerState.GONE,
    (PeerState.SUSPECT, "timeout"): PeerState.GONE,
    (PeerState.ALIVE, "bye"): PeerState.GONE,
    (PeerState.SUSPECT, "bye"): PeerState.GONE,
})


class LinkState(enum.Enum):
    OPENING = "opening"      # connected, the other side's hello not read yet
    UP = "up"                # hello read: messages flow
    CLOSED = "closed"


LINK: StateTable[LinkState] = StateTable(LinkState.OPENING, {
    (LinkState.OPENING, "hello"): LinkState.UP,
    (LinkState.OPENING, "close"): LinkState.CLOSED,
    (LinkState.UP, "close"): LinkState.CLOSED,
})


# ------------------------------------------------------------------------------------------- records
@dataclass(frozen=True, slots=True)
class Message:
    """A chat message as it travels: ``hops`` links crossed so far, ``ttl`` links it may still cross."""
    id: str
    origin: int
    name: str
    lamport: int
    text: str
    to: int | None = None
    ttl: int = HOP_LIMIT
    hops: int = 0

    def line(self) -> bytes:
        return encode_line(json.dumps({
            "t": "msg", "id": self.id, "from": f"{self.origin:016x}", "name": self.name,
            "to": None if self.to is None else f"{self.to:016x}", "lamport": self.lamport, "ttl": self.ttl,
            "hops": self.hops, "text": self.text}, ensure_ascii=False, separators=(",", ":")))


@dataclass(frozen=True, slots=True)
class Arrival:
    """A message delivered here: from which neighbour (None: sent here), after how many hops, when."""
    message: Message
    via: int | None
    hops: int
    at_ns: int


@dataclass(slots=True)
class Member:
    """What this peer knows about another."""
    peer_id: int
    name: str
    host: str
    port: int
    last_heard_ns: int
    joined_ns: int
    state: PeerState = PEER.initial
    heartbeats: int = 0

    def move(self, event: str) -> PeerState:
        self.state = PEER.next(self.state, event)
        return self.state


@dataclass(slots=True)
class Link(Generic[L]):
    """One TCP link to a neighbour: the engine's handle, who dialed, the framer of its bytes."""
    handle: L
    dialed: int | None          # the peer id this side dialed, None when the other side dialed us
    framer: LineFramer
    opened_ns: int
    peer_id: int | None = None
    state: LinkState = LINK.initial

    def move(self, event: str) -> LinkState:
        self.state = LINK.next(self.state, event)
        return self.state


# ------------------------------------------------------------------------------------------- actions
@dataclass(frozen=True, slots=True)
class Dial:
    """Open a TCP link to ``host:port`` (then tell the node ``link_opened(link, now, dialed=peer_id)``)."""
    peer_id: int
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class Send(Generic[L]):
    link: L
    data: bytes


@dataclass(frozen=True, slots=True)
class Close(Generic[L]):
    link: L
    reason: str


@dataclass(frozen=True, slots=True)
class Log:
    message: str


@dataclass(frozen=True, slots=True)
class Deliver:
    """A message for the user: show it."""
    arrival: Arrival


@dataclass(frozen=True, slots=True)
class Event:
    """A peer joined (``kind`` "join") or left ("leave", with the reason)."""
    kind: str
    peer_id: int
    name: str
    reason: str = ""


Action = Dial | Send[L] | Close[L] | Log | Deliver | Event


# ---------------------------------------------------------------------------------------------- node
@dataclass
class PeerNode(Generic[L]):
    """One peer as a state machine. Announcements: ``announce(now)`` out, ``receive_announcement`` in;
    links: ``link_opened`` / ``receive(link, data, now)`` / ``link_closed`` / ``dial_failed``; the user:
    ``say`` / ``whisper``; time: ``expire(now)``. Every call returns a list of actions.
    Times are ``now_ns`` (integer nanoseconds of a monotonic clock); ``suspect`` and ``timeout`` are seconds.
    """

    name: str
    peer_id: int
    port: int
    links: int | None = 2
    suspect: float = 1.5
    timeout: float = 3.0
    history: int = 50
    hop_limit: int = HOP_LIMIT
    seen_max: int = SEEN
    lamport: int = 0
    seq: int = 0
    members: dict[int, Member] = field(default_factory=dict, init=False)
    stats: collections.Counter[str] = field(default_factory=collections.Counter, init=False)
    _links: dict[L, Link[L]] = field(default_factory=dict, init=False, repr=False)
    _dialing: set[int] = field(default_factory=set, init=False, repr=False)
    _seen: collections.OrderedDict[str, None] = field(default_factory=collections.OrderedDict, init=False,
                                                      repr=False)
    _history: dict[int, collections.deque[Arrival]] = field(default_factory=dict, init=False, repr=False)
    _sent: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        check_name(self.name)
        if not 0 < self.peer_id < 1 << 64:
            raise InputError(f"peer id must be from 1 to 2**64-1, not {self.peer_id}")

    # -- queries
    def alive(self) -> list[Member]:
        """Members not GONE, by name."""
        return sorted((m for m in self.members.values() if m.state is not PeerState.GONE),
                      key=lambda m: (m.name, m.peer_id))

    def display_name(self, peer_id: int) -> str:
        """A member's name, ``name#abcd`` (the id's last 4 hex digits) when two members share it."""
        if peer_id == self.peer_id:
            return self.name
        m = self.members.get(peer_id)
        if m is None:
            return f"?#{peer_id & 0xFFFF:04x}"
        same = [o for o in self.members.values() if o.name == m.name and o.state is not PeerState.GONE]
        twin = len(same) > 1 or m.name == self.name
        return f"{m.name}#{peer_id & 0xFFFF:04x}" if twin else m.name

    def neighbours(self) -> list[int]:
        """Peer ids with an UP link, sorted."""
        return sorted({k.peer_id for k in self._links.values() if k.state is LinkState.UP and k.peer_id})

    def link_table(self) -> list[tuple[int, int, str]]:
        """(my id, neighbour id, who dialed: "me" or "them") for every UP link."""
        return sorted((self.peer_id, k.peer_id, "me" if k.dialed else "them") for k in self._links.values()
                      if k.state is LinkState.UP and k.peer_id)

    def messages(self, peer_id: int | None = None) -> list[Arrival]:
        """The last ``history`` messages of one origin (or of all), ordered by (Lamport time, origin)."""
        rows = [a for pid, q in self._history.items() if peer_id in (None, pid) for a in q]
        return sorted(rows, key=lambda a: (a.message.lamport, a.message.origin))

    def wanted(self) -> list[int]:
        """The peers this one should dial: its next ``links`` peers on the ring of ids (all when None)."""
        ids = sorted([m.peer_id for m in self.members.values() if m.state is not PeerState.GONE] + [self.peer_id])
        i = ids.index(self.peer_id)
        ring = ids[i + 1:] + ids[:i]
        return ring if self.links is None else ring[:self.links]

    # -- announcements
    def announce(self, now_ns: int) -> bytes:
        """The heartbeat to send now."""
        self.seq += 1
        return encode_announcement(self.name, self.peer_id, self.port, self.seq)

    def farewell(self) -> bytes:
        """The bye to send when leaving."""
        self.seq += 1
        return encode_announcement(self.name, self.peer_id, self.port, self.seq, BYE)

    def receive_announcement(self, data: bytes, host: str, now_ns: int) -> list[Action[L]]:
        """A discovery datagram from ``host``: a heartbeat, a newcomer, a bye, or garbage (logged)."""
        try:
            heard = decode_announcement(data)
        except DecodeError as exc:
            self.stats["bad announcements"] += 1
            return [Log(f"ignored a datagram from {host}: {exc}")]
        if heard.peer_id == self.peer_id:
            self.stats["own announcements"] += 1
            return []
        out: list[Action[L]] = []
        m = self.members.get(heard.peer_id)
        if heard.kind == BYE:
            if m is not None and m.state is not PeerState.GONE:
                self._gone(m, "bye", "said bye", out)
                self._dials(out)
            return out
        if m is None:
            if sum(1 for o in self.members.values() if o.state is not PeerState.GONE) >= MAX_PEERS:
                self.stats["table full"] += 1
                return [Log(f"ignored {heard.name} from {host}: already {MAX_PEERS} peers")]
            self._prune(now_ns)
            m = self.members[heard.peer_id] = Member(heard.peer_id, heard.name, host, heard.port, now_ns, now_ns)
            self._joined(m, out)
        else:
            was = m.state
            m.name, m.host, m.port = heard.name, host, heard.port
            self._heard(m, now_ns)
            if was is PeerState.GONE:
                m.joined_ns = now_ns
                self._joined(m, out)
        m.heartbeats += 1
        self._dials(out)
        return out

    # -- links
    def link_opened(self, link: L, now_ns: int, dialed: int | None = None) -> list[Action[L]]:
        """A TCP link is connected (``dialed``: the peer id this side dialed, None for an accepted one)."""
        if dialed is not None:
            self._dialing.discard(dialed)
        self._links[link] = Link(link, dialed, LineFramer(MAX_LINE), now_ns)
        hello = {"t": "hello", "id": f"{self.peer_id:016x}", "name": self.name, "port": self.port}
        return [Send(link, encode_line(json.dumps(hello, ensure_ascii=False)))]

    def dial_failed(self, peer_id: int, reason: str) -> list[Action[L]]:
        self._dialing.discard(peer_id)
        return [Log(f"cannot link to {self.display_name(peer_id)}: {reason}")]

    def link_closed(self, link: L, reason: str, now_ns: int) -> list[Action[L]]:
        """The link ended (EOF, reset, or after a Close): forget it."""
        k = self._links.pop(link, None)
        if k is None:
            return []
        k.move("close")
        if k.peer_id is None:
            return []
        return [Log(f"link to {self.display_name(k.peer_id)} closed: {reason}")]

    def receive(self, link: L, data: bytes, now_ns: int) -> list[Action[L]]:
        """Bytes read from a link: lines in, deliveries and forwards out; garbage logged and dropped."""
        k = self._links.get(link)
        if k is None:
            return []
        out: list[Action[L]] = []
        for ev in k.framer.feed(data):
            if isinstance(ev, Line):
                self._line(k, ev.text, now_ns, out)
            elif isinstance(ev, LineTooLong):
                self._bad(k, f"line too long ({ev.length} bytes)", out)
            elif isinstance(ev, InvalidUtf8):
                self._bad(k, f"invalid UTF-8 at offset {ev.offset}", out)
            if k.state is LinkState.CLOSED:
                break
        return out

    # -- the user
    def say(self, text: str, now_ns: int) -> list[Action[L]]:
        """A public message from this peer: delivered here, sent to every neighbour."""
        return self._originate(text, None, now_ns)

    def whisper(self, name: str, text: str, now_ns: int) -> list[Action[L]]:
        """A private message to the one live peer called ``name`` (or ``name#abcd``); InputError if none."""
        matches = [m for m in self.alive() if self.display_name(m.peer_id) == name]
        if not matches:
            matches = [m for m in self.alive() if m.name == name]
        if not matches:
            raise InputError(f"no peer called {name!r} (see /peers)")
        if len(matches) > 1:
            raise InputError(f"{len(matches)} peers are called {name!r}: use "
                             + " or ".join(self.display_name(m.peer_id) for m in matches))
        return self._originate(text, matches[0].peer_id, now_ns)

    def shutdown(self) -> list[Action[L]]:
        """Leaving: close every link (the engine also sends ``farewell()``)."""
        out: list[Action[L]] = [Close(k.handle, "leaving") for k in self._links.values()]
        for k in self._links.values():
            k.move("close")
        self._links.clear()
        return out

    # -- time
    def expire(self, now_ns: int) -> list[Action[L]]:
        """Silence: ALIVE -> SUSPECT after ``suspect`` s, -> GONE after ``timeout`` s (links closed)."""
        out: list[Action[L]] = []
        changed = False
        for m in list(self.members.values()):
            quiet = now_ns - m.last_heard_ns
            if m.state is not PeerState.GONE and quiet > self.timeout * NS_PER_S:
                self._gone(m, "timeout", f"silent for {quiet / NS_PER_S:.1f} s", out)
                changed = True
            elif m.state is PeerState.ALIVE and quiet > self.suspect * NS_PER_S:
                m.move("silence")
        if changed:
            self._dials(out)
        return out

    # -- inside
    def _originate(self, text: str, to: int | None, now_ns: int) -> list[Action[L]]:
        if "\n" in text or "\r" in text:
            raise InputError("a message is one line: no newline in it")
        if not text or len(text) > MAX_TEXT:
            raise InputError(f"a message holds 1 to {MAX_TEXT} characters, not {len(text)}")
        self.lamport += 1
        self._sent += 1
        msg = Message(f"{self.peer_id:016x}-{self._sent}", self.peer_id, self.name, self.lamport, text, to,
                      self.hop_limit, 0)
        self._remember(msg.id)
        arrival = Arrival(msg, None, 0, now_ns)
        self._keep(arrival)
        out: list[Action[L]] = [Deliver(arrival)]
        direct = [k for k in self._links.values() if k.state is LinkState.UP and to is not None and k.peer_id == to]
        targets = direct[:1] or [k for k in self._links.values() if k.state is LinkState.UP]
        line = msg.line()
        out += [Send(k.handle, line) for k in targets]
        self.stats["sent"] += 1
        return out

    def _line(self, k: Link[L], text: str, now_ns: int, out: list[Action[L]]) -> None:
        try:
            obj = json.loads(text)
        except ValueError:
            self._bad(k, "not JSON", out)
            return
        if not isinstance(obj, dict):
            self._bad(k, "not a JSON object", out)
            return
        kind = obj.get("t")
        if k.state is LinkState.OPENING:
            if kind != "hello":
                self._bad(k, f"expected a hello first, got {str(kind)[:20]!r}", out)
                return
            self._hello(k, obj, now_ns, out)
        elif kind == "msg":
            assert k.peer_id is not None
            m = self.members.get(k.peer_id)
            if m is not None:
                self._heard(m, now_ns)
            self._msg(k, obj, now_ns, out)
        else:
            self._bad(k, f"unknown line type {str(kind)[:20]!r}", out)

    def _hello(self, k: Link[L], obj: dict[str, Any], now_ns: int, out: list[Action[L]]) -> None:
        try:
            pid = _peer_id(obj.get("id"))
            name, port = obj.get("name"), obj.get("port")
            if not isinstance(name, str) or name_problem(name) or not isinstance(port, int) or not 0 < port < 65536:
                raise ValueError("bad name or port")
        except ValueError as exc:
            self._close(k, f"bad hello: {exc}", out)
            return
        if pid == self.peer_id:
            self._close(k, "linked to myself", out)
            return
        if k.dialed is not None and k.dialed != pid:
            self._close(k, f"dialed {k.dialed:016x}, answered by {pid:016x}", out)
            return
        k.peer_id = pid
        k.move("hello")
        m = self.members.get(pid)
        if m is None or m.state is PeerState.GONE:
            if m is None:
                m = self.members[pid] = Member(pid, name, "", port, now_ns, now_ns)
            else:
                self._heard(m, now_ns)
            m.joined_ns = now_ns
            self._joined(m, out)
        else:
            self._heard(m, now_ns)
        others = [o for o in self._links.values() if o is not k and o.peer_id == pid and o.state is LinkState.UP]
        for o in others:              # two links to one peer: keep the one the smaller id dialed
            keeper = min(self.peer_id, pid)
            mine_by_keeper = (k.dialed is not None) == (keeper == self.peer_id)
            self._close(o if mine_by_keeper else k, "duplicate link", out)
            if not mine_by_keeper:
                return
        self._dials(out)

    def _msg(self, k: Link[L], obj: dict[str, Any], now_ns: int, out: list[Action[L]]) -> None:
        try:
            msg = _message(obj)
        except (ValueError, TypeError) as exc:
            self._bad(k, f"bad message: {exc}", out)
            return
        if msg.lamport > self.lamport + MAX_LAMPORT_JUMP:
            self._bad(k, f"Lamport time {msg.lamport} is too far ahead of {self.lamport}", out)
            return
        if msg.id in self._seen:
            self.stats["duplicates"] += 1
            return
        self._remember(msg.id)
        arrived = Message(msg.id, msg.origin, msg.name, msg.lamport, msg.text, msg.to, msg.ttl, msg.hops + 1)
        self.stats["received"] += 1
        if msg.to is None or msg.to == self.peer_id:
            self.lamport = max(self.lamport, msg.lamport) + 1
            arrival = Arrival(arrived, k.peer_id, arrived.hops, now_ns)
            self._keep(arrival)
            out.append(Deliver(arrival))
            if msg.to == self.peer_id:
                return
        if msg.ttl <= 1:
            self.stats["hop limit"] += 1
            return
        onward = Message(msg.id, msg.origin, msg.name, msg.lamport, msg.text, msg.to, msg.ttl - 1, msg.hops + 1)
        line = onward.line()
        for o in self._links.values():
            if o is not k and o.state is LinkState.UP and o.peer_id != msg.origin:
                out.append(Send(o.handle, line))
                self.stats["forwarded"] += 1

    def _remember(self, msg_id: str) -> None:
        self._seen[msg_id] = None
        while len(self._seen) > self.seen_max:
            self._seen.popitem(last=False)

    def _keep(self, arrival: Arrival) -> None:
        q = self._history.get(arrival.message.origin)
        if q is None:
            q = self._history[arrival.message.origin] = collections.deque(maxlen=self.history)
        q.append(arrival)

    def _heard(self, m: Member, now_ns: int) -> None:
        m.last_heard_ns = max(m.last_heard_ns, now_ns)
        m.move("heard")

    def _joined(self, m: Member, out: list[Action[L]]) -> None:
        where = host_port(m.host, m.port) if m.host else f"port {m.port}"
        out.append(Event("join", m.peer_id, self.display_name(m.peer_id)))
        out.append(Log(f"{self.display_name(m.peer_id)} joined from {where}"))

    def _gone(self, m: Member, event: str, reason: str, out: list[Action[L]]) -> None:
        m.move(event)
        out.append(Event("leave", m.peer_id, self.display_name(m.peer_id), reason))
        out.append(Log(f"{self.display_name(m.peer_id)} left: {reason}"))
        for k in [k for k in self._links.values() if k.peer_id == m.peer_id]:
            self._close(k, f"{m.name} is gone", out)

    def _dials(self, out: list[Action[L]]) -> None:
        """Dial the wanted peers not linked yet; close the links this side dialed that are no longer wanted."""
        wanted = self.wanted()
        linked = {k.peer_id if k.peer_id is not None else k.dialed for k in self._links.values()}
        for pid in wanted:
            m = self.members[pid]
            if pid not in linked and pid not in self._dialing and m.host:
                self._dialing.add(pid)
                out.append(Dial(pid, m.host, m.port))
        for k in list(self._links.values()):
            if k.dialed is not None and k.state is LinkState.UP and k.dialed not in wanted:
                self._close(k, "no longer a ring neighbour", out)

    def _prune(self, now_ns: int) -> None:
        """Forget GONE members silent for ten timeouts (the table stays bounded under hostile churn)."""
        limit = 10 * self.timeout * NS_PER_S
        for pid in [p for p, m in self.members.items() if m.state is PeerState.GONE
                    and now_ns - m.last_heard_ns > limit]:
            del self.members[pid]

    def _bad(self, k: Link[L], why: str, out: list[Action[L]]) -> None:
        self.stats["bad lines"] += 1
        who = self.display_name(k.peer_id) if k.peer_id else "a new link"
        out.append(Log(f"ignored a line from {who}: {why}"))

    def _close(self, k: Link[L], reason: str, out: list[Action[L]]) -> None:
        if k.state is not LinkState.CLOSED:
            k.move("close")
        self._links.pop(k.handle, None)
        out.append(Close(k.handle, reason))


def _peer_id(value: object) -> int:
    if not isinstance(value, str) or len(value) != 16:
        raise ValueError(f"peer id {str(value)[:20]!r} is not 16 hex digits")
    pid = int(value, 16)
    if pid == 0:
        raise ValueError("peer id 0")
    return pid


def _message(obj: dict[str, Any]) -> Message:
    """A message line's object, checked field by field (ValueError or TypeError naming the field)."""
    msg_id, name, text = obj.get("id"), obj.get("name"), obj.get("text")
    if not isinstance(msg_id, str) or not 0 < len(msg_id) <= 64:
        raise ValueError("id")
    if not isinstance(name, str) or name_problem(name):
        raise ValueError("name")
    if not isinstance(text, str) or not 0 < len(text) <= MAX_TEXT:
        raise ValueError("text")
    ints = {}
    for key, high in (("lamport", 1 << 62), ("ttl", 255), ("hops", 255)):
        v = obj.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= high:
            raise ValueError(key)
        ints[key] = v
    to = obj.get("to")
    return Message(msg_id, _peer_id(obj.get("from")), name, ints["lamport"], text,
                   None if to is None else _peer_id(to), ints["ttl"], ints["hops"])
