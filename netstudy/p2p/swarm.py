"""Many peers as processes: start agents (``python -m netstudy.p2p.agent``), send them commands, collect
what they print. ``popen(host, argv, **kwargs)`` starts a process where it should run: the lab's
``lab.popen`` (one network namespace per peer) or ``subprocess.Popen`` ignoring ``host`` (all on
loopback). Used by the lab tests, ``benchmarks/p2p.py`` and the recording of notebook 07's lab data.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

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
    link-local multicast, ``broadcast=True`` by IPv4 broadcast (both on ``iface``)."""

    def __init__(self, popen: Popen, hosts: Sequence[str], *, iface: str | None = "eth0", interval: float = 0.5,
                 timeout: float = 3.0, links: int = 2, discovery_port: int | None = None,
                 names: Sequence[str] | None = None, family: int = 4, broadcast: bool = False) -> None:
        self.agents: list[Agent] = []
        env = dict(os.environ)
        for i, host in enumerate(hosts):
            name = names[i] if names else f"p{i + 1}"
            argv = [sys.executable, "-m", "netstudy.p2p.agent", name, "--interval", str(interval),
                    "--timeout", str(timeout), "--links", str(links)]
            if iface:
                argv += ["--iface", iface]
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
