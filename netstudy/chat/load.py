"""A load generator for chat servers: many clients on one ``selectors`` loop, in its own process.

Two loads (benchmarks/chat.py, the notebook and the soak test share them):

* ``burst``: every client sends ``lines`` lines at once; every line fans out to all the others.
  Figure: delivered lines per second, from the first send to the last delivery.
* ``paced``: every client sends one line each ``interval`` seconds for ``duration`` seconds, the
  clients spread evenly over the interval. Figure: delivery latency (p50/p99).

Each line carries its send time (``time.perf_counter_ns()``, CLOCK_MONOTONIC, the same clock in every
process); a few *probe* clients parse every line they receive to measure latency, the others only
count newlines (``bytearray.count``), so the load generator stays cheaper than the server it loads.

``python -m netstudy.chat.load --port N --clients 1000 --mode burst`` prints the result as JSON;
``run_load_process`` runs it that way from Python (a second process: the server keeps its own core).
"""
from __future__ import annotations

import argparse
import json
import re
import selectors
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field

from netstudy.chat.core import DEFAULT_HOST
from netstudy.chat.engine.server import raise_fd_limit

_WELCOME = re.compile(rb"\*\*\* welcome \S+ \((\d+) online\)")


@dataclass(frozen=True)
class LoadResult:
    """What one load run measured."""
    mode: str
    clients: int
    sent: int                  # lines the clients sent
    expected: int              # deliveries expected: each line to every other client
    delivered: int             # chat lines the clients received
    seconds: float             # first send to last delivery
    latencies_ms: list[float] = field(repr=False)   # probe clients' per-line delivery latency
    disconnected: int = 0      # clients the server dropped during the run
    error: str = ""

    @property
    def complete(self) -> bool:
        return self.delivered == self.expected and not self.disconnected and not self.error

    @property
    def lines_per_s(self) -> float:
        return self.delivered / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, p: float) -> float:
        """Latency percentile in ms (nearest rank), NaN without samples."""
        if not self.latencies_ms:
            return float("nan")
        s = sorted(self.latencies_ms)
        return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s))) - 1))]

    def summary(self) -> dict:
        return {"mode": self.mode, "clients": self.clients, "sent": self.sent, "expected": self.expected,
                "delivered": self.delivered, "seconds": round(self.seconds, 3),
                "lines_per_s": round(self.lines_per_s), "p50_ms": round(self.percentile(50), 2),
                "p99_ms": round(self.percentile(99), 2), "disconnected": self.disconnected,
                "complete": self.complete}


class _Client:
    __slots__ = ("sock", "nick", "probe", "got", "tail", "joined", "joins_left")

    def __init__(self, sock: socket.socket, nick: str, probe: bool) -> None:
        self.sock, self.nick, self.probe = sock, nick, probe
        self.got = 0                  # chat lines received during the measurement
        self.tail = b""               # an unfinished line (join phase and probes)
        self.joined = False
        self.joins_left = -1          # join notices still to come before everyone is in


def run_load(host: str, port: int, clients: int, mode: str = "burst", *, lines: int = 20,
             interval: float = 0.5, duration: float = 20.0, probes: int = 10,
             timeout: float = 120.0, window: float | None = None) -> LoadResult:
    """Connect ``clients`` clients, wait until all have joined, run the load, return the figures.

    ``timeout`` bounds the whole run; ``window`` (seconds from the first send) stops the measurement
    early for a server too slow to finish: the rate is then what it delivered within the window, and
    the latencies only those of the lines that made it (a flattering view of a server that is behind).
    """
    if mode not in ("burst", "paced"):
        raise ValueError(f"mode must be 'burst' or 'paced', not {mode!r}")
    raise_fd_limit(clients + 64)
    deadline = time.monotonic() + timeout
    step = max(1, clients // max(1, probes)) if probes else clients + 1
    sel = selectors.DefaultSelector()
    conns: list[_Client] = []
    try:
        for i in range(clients):
            sock = socket.create_connection((host, port), timeout=10)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(f"/nick c{i}\n".encode())
            sock.setblocking(False)
            c = _Client(sock, f"c{i}", probe=(i % step == 0))
            conns.append(c)
            sel.register(sock, selectors.EVENT_READ, c)
        error = _wait_joined(sel, conns, deadline)
        if error:
            return LoadResult(mode, clients, 0, 0, 0, 0.0, [], error=error)
        if window is not None:
            deadline = min(deadline, time.monotonic() + window)
        return _measure(sel, conns, mode, lines, interval, duration, deadline)
    finally:
        sel.close()
        for c in conns:
            c.sock.close()


def _wait_joined(sel: selectors.BaseSelector, conns: list[_Client], deadline: float) -> str:
    """Read until every client has its welcome and every later join notice (nothing stray left)."""
    waiting = len(conns)
    while waiting:
        if time.monotonic() > deadline:
            return f"only {len(conns) - waiting} of {len(conns)} clients joined in time"
        for key, _ in sel.select(timeout=1.0):
            c: _Client = key.data
            data = c.sock.recv(1 << 20)
            if not data:
                return f"{c.nick} was disconnected while joining"
            text = c.tail + data
            cut = text.rfind(b"\n") + 1
            whole, c.tail = text[:cut], text[cut:]
            if not c.joined:
                if b"ERR " in whole:
                    problem = whole[whole.find(b"ERR "):].splitlines()[0].decode()
                    return f"{c.nick}: {problem}"
                m = _WELCOME.search(whole)
                if m is None:
                    continue
                c.joined = True
                c.joins_left = len(conns) - int(m.group(1))
                whole = whole[m.end():]
            c.joins_left -= whole.count(b" joined (")
            if c.joins_left == 0:
                waiting -= 1
    return ""


def _measure(sel: selectors.BaseSelector, conns: list[_Client], mode: str, lines: int, interval: float,
             duration: float, deadline: float) -> LoadResult:
    n = len(conns)
    rounds = lines if mode == "burst" else max(1, int(duration / interval))
    total = n * rounds
    expected = total * (n - 1)
    buf = bytearray(1 << 20)
    latencies: list[float] = []
    delivered = disconnected = unsent = 0
    t0 = time.perf_counter_ns()
    last = t0
    j = 0                                          # next send (paced)
    spacing_ns = int(interval * 1e9 / n)
    if mode == "burst":
        for c in conns:
            now = time.perf_counter_ns()
            c.sock.sendall(b"".join(b"%d %d\n" % (k, now) for k in range(lines)))
        j = total
    while delivered < expected - unsent * (n - 1) and time.monotonic() < deadline:
        now = time.perf_counter_ns()
        while j < total and t0 + j * spacing_ns <= now:
            try:
                conns[j % n].sock.send(b"%d %d\n" % (j // n, time.perf_counter_ns()))
            except OSError:                        # a full socket buffer: the server is not keeping up
                unsent += 1
            j += 1
        wait = (t0 + j * spacing_ns - time.perf_counter_ns()) / 1e9 if j < total else 0.5
        for key, _ in sel.select(timeout=max(0.0, wait)):
            c = key.data
            try:
                got = c.sock.recv_into(buf)
            except BlockingIOError:
                continue
            except OSError:
                got = 0
            if not got:
                disconnected += 1
                sel.unregister(c.sock)
                continue
            last = time.perf_counter_ns()
            count = buf.count(b"\n", 0, got)
            c.got += count
            delivered += count
            if c.probe:
                text = c.tail + bytes(buf[:got])
                cut = text.rfind(b"\n") + 1
                c.tail = text[cut:]
                latencies += [(last - int(line.rsplit(b" ", 1)[1])) / 1e6
                              for line in text[:cut].split(b"\n")[:-1]]
        if disconnected == n:
            break
    sent = j - unsent
    expected = sent * (n - 1)
    error = "" if delivered >= expected else f"stopped with {delivered} of {expected} lines delivered"
    return LoadResult(mode, n, sent, expected, delivered, (last - t0) / 1e9, latencies, disconnected, error)


# The notebook's short bursts: fewer lines per client as the room grows, so each run stays short;
# a run still going after NOTEBOOK_WINDOW seconds is cut there (its rate is what it managed).
NOTEBOOK_LINES = {10: 40, 100: 10, 500: 2, 1000: 1}
NOTEBOOK_WINDOW = 5.0


def run_load_process(host: str, port: int, clients: int, mode: str = "burst", **kw: float) -> LoadResult:
    """``run_load`` in a separate Python process (its own core and GIL); same arguments, same result."""
    args = [sys.executable, "-m", "netstudy.chat.load", "--host", host, "--port", str(port),
            "--clients", str(clients), "--mode", mode]
    for name, value in kw.items():
        args += [f"--{name}", str(value)]
    timeout = float(kw.get("timeout", 120.0)) + 30
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed: {proc.stderr.strip().splitlines()[-1:]}")
    return LoadResult(**json.loads(proc.stdout))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m netstudy.chat.load", description=__doc__.split("\n")[0])
    p.add_argument("--host", default=DEFAULT_HOST)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--mode", choices=["burst", "paced"], default="burst")
    p.add_argument("--lines", type=int, default=20)
    p.add_argument("--interval", type=float, default=0.5)
    p.add_argument("--duration", type=float, default=20.0)
    p.add_argument("--probes", type=int, default=10)
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--window", type=float, default=None)
    a = p.parse_args(argv)
    result = run_load(a.host, a.port, a.clients, a.mode, lines=a.lines, interval=a.interval,
                      duration=a.duration, probes=a.probes, timeout=a.timeout, window=a.window)
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
