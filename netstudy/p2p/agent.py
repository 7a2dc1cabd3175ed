"""A peer driven by JSON lines, for the lab tests, the benchmark and the notebook's recordings.

``python -m netstudy.p2p.agent NAME [--iface eth0] [--family 4|6] [--broadcast] [--discovery-port N] [--interval
S] [--timeout S] [--links K] [--id HEX]`` prints one JSON object per line on stdout: ``{"ev": "ready", "id":
..., "port": ..., "discovery": ...}``, then every ``message`` (id, origin name, text, hops, via, Lamport time,
``at_ns`` of the monotonic clock, which every namespace of one machine shares), ``join`` and ``leave``. It reads
commands on stdin: ``{"say": TEXT}``, ``{"whisper": [NAME, TEXT]}``, ``{"burst": [N, PREFIX]}`` (N messages as
fast as they go), ``{"state": true}`` (answers ``{"ev": "state", "alive": [...], "neighbours": [...], "stats":
...}``), ``{"crash": true}`` (exit at once: no bye, as a killed process) and ``{"quit": true}``.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import threading
import time
from typing import Any

from netstudy.p2p.core import DISCOVERY_PORT
from netstudy.p2p.engine import Peer, Record

_out_lock = threading.Lock()


def emit(obj: dict[str, Any]) -> None:
    with _out_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def _record(rec: Record) -> dict[str, Any]:
    row: dict[str, Any] = {"ev": rec.kind, "name": rec.name, "text": rec.text, "at_ns": rec.at_ns}
    if rec.arrival is not None:
        m = rec.arrival.message
        row.update(id=m.id, origin=f"{m.origin:016x}", hops=rec.arrival.hops, lamport=m.lamport,
                   via=None if rec.arrival.via is None else f"{rec.arrival.via:016x}",
                   private=m.to is not None)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m netstudy.p2p.agent")
    ap.add_argument("name")
    ap.add_argument("--iface")
    ap.add_argument("--family", type=int, choices=(4, 6), default=4)
    ap.add_argument("--broadcast", action="store_true")
    ap.add_argument("--discovery-port", type=int, default=DISCOVERY_PORT)
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument("--links", type=int, default=2)
    ap.add_argument("--id", type=lambda text: int(text, 16), help="the peer id, 16 hex digits (default: random)")
    args = ap.parse_args(argv)
    peer = Peer(args.name, iface=args.iface, family=args.family, broadcast=args.broadcast,
                discovery_port=args.discovery_port, interval=args.interval,
                timeout=args.timeout, links=args.links, peer_id=args.id).start()
    emit({"ev": "ready", "name": peer.name, "id": f"{peer.peer_id:016x}", "port": peer.address[1],
          "discovery": peer.discovery})
    done = threading.Event()

    def forward() -> None:
        while not done.is_set():
            try:
                emit(_record(peer.inbox.get(timeout=0.1)))
            except queue.Empty:
                continue

    threading.Thread(target=forward, daemon=True).start()
    for line in sys.stdin:
        try:
            cmd = json.loads(line)
        except ValueError:
            continue
        if "say" in cmd:
            peer.say(str(cmd["say"]))
        elif "whisper" in cmd:
            peer.whisper(*cmd["whisper"])
        elif "burst" in cmd:
            n, prefix = cmd["burst"]
            for i in range(int(n)):
                peer.say(f"{prefix}{i}")
        elif "state" in cmd:
            with peer._lock:
                emit({"ev": "state", "name": peer.name, "id": f"{peer.peer_id:016x}",
                      "alive": sorted(m.name for m in peer.node.alive()),
                      "table": peer.table(), "neighbours": [f"{n:016x}" for n in peer.node.neighbours()],
                      "stats": dict(peer.node.stats), "lamport": peer.node.lamport,
                      "now_ns": time.monotonic_ns(), "logs": peer.logs[-20:]})
        elif "crash" in cmd:
            sys.stdout.flush()
            os._exit(9)
        elif "quit" in cmd:
            break
    peer.inbox.put(Record(time.monotonic_ns(), "stopped", peer.name, ""))
    time.sleep(0.2)
    done.set()
    peer.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
