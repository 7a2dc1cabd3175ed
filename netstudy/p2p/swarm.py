"""Many peers as processes: start agents (``python -m netstudy.p2p.agent``), send them commands, collect
what they print. ``popen(host, argv, **kwargs)`` starts a process where it should run: the lab's
``lab.popen`` (one network namespace per peer) or ``subprocess.Popen`` ignoring ``host`` (all on
loopback). Used by the lab tests, ``benchmarks/p2p.py`` and the recording of notebook 07's lab data.

:func:`lab_run` is notebook 07's lab experiment (run live there as root, recorded by
``tests/data/record_p2p.py`` otherwise): five peers p1..p5 on h1..h5 of the lab's ``lan`` (interval 0.3 s,
timeout 1.5 s, one ring link each, ids in name order so the ring is p1 → p2 → … → p5 → p1 on every run): every
peer's links sampled every 0.1 s until the ring closes; one of h1's announcements captured whole on its eth0;
one message from p1 with every peer's arrival; p3 killed (no bye) and the leave events it caused; h5's switch
port down then up (a partition) with the membership every 0.25 s and a message sent during it.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from netstudy.p2p.core import DISCOVERY_PORT

Popen = Callable[..., subprocess.Popen]


class Agent:
    """One peer process and every line it printed (``events``, in order)."""

    def __init__(self, host: str, name: str, proc: subprocess.Popen) -> None:
        self.host, self.name, self.proc = host, name, proc
        self.events: list[dict[str, Any]] = []
        self.id = ""
        self._cond = threading.Condition()
        threading.Thread(target=self._read, name=f"agent-{name}", daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            with self._cond:
                if ev.get("ev") == "ready":
                    self.id = ev["id"]
                self.events.append(ev)
                self._cond.notify_all()

    def send(self, **cmd: Any) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    def wait(self, pred: Callable[[dict[str, Any]], bool], timeout: float, start: int = 0) -> dict[str, Any] | None:
        """The first event from index ``start`` that satisfies ``pred``, waiting up to ``timeout`` s."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                for ev in self.events[start:]:
                    if pred(ev):
                        return ev
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def state(self, timeout: float = 5.0) -> dict[str, Any]:
        start = len(self.events)
        self.send(state=True)
        ev = self.wait(lambda e: e.get("ev") == "state", timeout, start)
        if ev is None:
            raise TimeoutError(f"{self.name} did not answer")
        return ev

    def messages(self) -> list[dict[str, Any]]:
        with self._cond:
            return [e for e in self.events if e.get("ev") == "message"]


class Swarm:
    """Peers ``p1``..``pN`` on ``hosts`` (one per host), started by ``popen``; ``family=6`` discovers by IPv6
    link-local multicast, ``broadcast=True`` by IPv4 broadcast (both on ``iface``); ``ids`` fixes the peer
    ids (default random)."""

    def __init__(self, popen: Popen, hosts: Sequence[str], *, iface: str | None = "eth0", interval: float = 0.5,
                 timeout: float = 3.0, links: int = 2, discovery_port: int | None = None,
                 names: Sequence[str] | None = None, family: int = 4, broadcast: bool = False,
                 ids: Sequence[int] | None = None) -> None:
        self.agents: list[Agent] = []
        env = dict(os.environ)
        for i, host in enumerate(hosts):
            name = names[i] if names else f"p{i + 1}"
            argv = [sys.executable, "-m", "netstudy.p2p.agent", name, "--interval", str(interval),
                    "--timeout", str(timeout), "--links", str(links)]
            if iface:
                argv += ["--iface", iface]
            if ids:
                argv += ["--id", f"{ids[i]:016x}"]
            if family != 4:
                argv += ["--family", str(family)]
            if broadcast:
                argv += ["--broadcast"]
            if discovery_port:
                argv += ["--discovery-port", str(discovery_port)]
            proc = popen(host, argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, env=env)
            self.agents.append(Agent(host, name, proc))
        for a in self.agents:
            if a.wait(lambda e: e.get("ev") == "ready", 20) is None:
                raise RuntimeError(f"peer {a.name} on {a.host} did not start")

    def __getitem__(self, name: str) -> Agent:
        return next(a for a in self.agents if a.name == name)

    def running(self) -> list[Agent]:
        return [a for a in self.agents if a.proc.poll() is None]

    def converged(self, timeout: float) -> float | None:
        """Seconds until every running peer lists every other running peer alive, or None."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            live = self.running()
            names = sorted(a.name for a in live)
            if all(a.state()["alive"] == [n for n in names if n != a.name] for a in live):
                return time.monotonic() - t0
            time.sleep(0.1)
        return None

    def linked(self, timeout: float) -> bool:
        """True once every running peer has at least one UP link and the link graph is connected."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            live = self.running()
            edges = {(a.id, n) for a in live for n in a.state()["neighbours"]}
            if _connected({a.id for a in live}, edges):
                return True
            time.sleep(0.1)
        return False

    def close(self) -> None:
        for a in self.agents:
            a.send(quit=True)
        for a in self.agents:
            try:
                a.proc.wait(5)
            except subprocess.TimeoutExpired:
                a.proc.kill()

    def __enter__(self) -> Swarm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _connected(nodes: set[str], edges: set[tuple[str, str]]) -> bool:
    if not nodes:
        return True
    adj: dict[str, set[str]] = {n: set() for n in nodes}
    for a, b in edges:
        if a in adj and b in adj:
            adj[a].add(b)
            adj[b].add(a)
    seen, todo = set(), [next(iter(nodes))]
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo += adj[n] - seen
    return seen == nodes


# ---------------------------------------------------------------------------------- notebook 07's lab run
LAB_PEERS, LAB_INTERVAL, LAB_TIMEOUT = 5, 0.3, 1.5


def capture_announcement(port: int, source: str) -> str:
    """The first UDP frame from ``source`` to ``port`` seen on eth0, as hex (run inside a host's namespace:
    root; the host's own announcement, so the same peer's on every run)."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind(("eth0", 0))
    s.settimeout(5)
    while True:
        frame = s.recv(2048)
        if frame[12:14] == b"\x08\x00" and frame[23] == 17 and frame[26:30] == socket.inet_aton(source):
            ihl = (frame[14] & 0x0F) * 4
            if int.from_bytes(frame[14 + ihl + 2:14 + ihl + 4], "big") == port:
                return frame.hex()


def _snapshot(sw: Swarm, t0: int) -> dict[str, Any]:
    states = [a.state() for a in sw.running()]
    return {"t_s": (time.monotonic_ns() - t0) / 1e9,
            "peers": {s["name"]: {"id": s["id"], "alive": s["alive"], "neighbours": s["neighbours"]} for s in states}}


def _ring_closed(snapshot: dict[str, Any]) -> bool:
    return all(len(p["neighbours"]) == 2 for p in snapshot["peers"].values())


def _events(sw: Swarm, marks: dict[str, int], t0: int, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    return [dict(e, peer=a.name, t_s=(e["at_ns"] - t0) / 1e9) for a in sw.agents
            for e in a.events[marks[a.name]:] if e.get("ev") in kinds]


def lab_run(lab: Any, discovery_port: int = DISCOVERY_PORT) -> dict[str, Any]:
    """Notebook 07's experiment in a running lab of ``lan`` with h1..h5 (``lab``: a ``netstudy.lab.Lab``),
    as a dict that JSON keeps (see the module's docstring)."""
    run: dict[str, Any] = {"recorded": time.strftime("%Y-%m-%d"), "interval": LAB_INTERVAL, "timeout": LAB_TIMEOUT}
    hosts = [f"h{i}" for i in range(1, LAB_PEERS + 1)]
    run["addresses"] = {h: str(lab.addresses[h].ipv4) for h in hosts}
    ids = [(i + 1) * 0x1111_1111_1111_1111 for i in range(LAB_PEERS)]          # p1 < p2 < ... < p5
    t0 = time.monotonic_ns()
    with Swarm(lab.popen, hosts, interval=LAB_INTERVAL, timeout=LAB_TIMEOUT, links=1, ids=ids,
               discovery_port=discovery_port) as sw:
        run["forming"] = []                              # every 0.1 s until the ring closes: two neighbours each
        while len(run["forming"]) < 8 or (len(run["forming"]) < 100 and not _ring_closed(run["forming"][-1])):
            time.sleep(0.1)
            run["forming"].append(_snapshot(sw, t0))
        run["frame"] = lab.call("h1", capture_announcement, discovery_port, run["addresses"]["h1"])
        time.sleep(0.5)
        run["ids"] = {a.name: a.id for a in sw.agents}
        sw["p1"].send(say="hello, everyone")
        time.sleep(1.0)
        run["gossip"] = [dict(m, peer=a.name) for a in sw.agents for m in a.messages()]
        marks = {a.name: len(a.events) for a in sw.agents}
        killed = time.monotonic_ns()
        sw["p3"].send(crash=True)
        sw["p3"].proc.wait(5)
        snaps = []
        while time.monotonic_ns() - killed < (LAB_TIMEOUT + 1.5) * 1e9:
            snaps.append(_snapshot(sw, killed))
            time.sleep(0.25)
        events = [e for e in _events(sw, marks, killed, ("join", "leave")) if e["peer"] != "p3"]
        run["kill"] = {"victim": "p3", "snapshots": snaps, "events": events}
        marks = {a.name: len(a.events) for a in sw.agents}
        cut = time.monotonic_ns()
        lab.run("sw0", ["ip", "link", "set", "h5", "down"], check=True)
        snaps, said = [], False
        while time.monotonic_ns() - cut < 4.0e9:
            snaps.append(_snapshot(sw, cut))
            if not said and time.monotonic_ns() - cut > 2.5e9:
                sw["p1"].send(say="said during the partition")
                said = True
            time.sleep(0.25)
        healed = time.monotonic_ns()
        lab.run("sw0", ["ip", "link", "set", "h5", "up"], check=True)
        while time.monotonic_ns() - healed < 3.0e9:
            snaps.append(_snapshot(sw, cut))
            time.sleep(0.25)
        sw["p2"].send(say="said after healing")
        time.sleep(1.0)
        run["partition"] = {"cut": "h5", "down_s": 0.0, "up_s": (healed - cut) / 1e9, "snapshots": snaps,
                            "events": _events(sw, marks, cut, ("join", "leave", "message"))}
    return run
