"""Record what notebooks/07_p2p_chat.ipynb replays of the lab (building it needs root).

    sudo .venv/bin/python tests/data/record_p2p.py

In the lab's `lan` with five peers p1..p5 on h1..h5 (interval 0.3 s, timeout 1.5 s, one ring link each):
one announcement frame captured whole on h1's eth0 (AF_PACKET, Ethernet + IPv4 + UDP + payload); the
link table of every peer sampled every 0.1 s while the ring forms; one message from p1 with every
peer's arrival (hops, neighbour it came from, monotonic time); p3 killed (no bye) and the leave events
it caused; h5's switch port down then up (a partition) with the membership every 0.25 s and a message
sent during it. Written to netstudy/data/p2p/lab_run.json.
"""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from netstudy.lab import Lab
from netstudy.p2p.core import DISCOVERY_PORT
from netstudy.p2p.swarm import Swarm

OUT = Path(__file__).resolve().parents[2] / "netstudy" / "data" / "p2p" / "lab_run.json"
N, INTERVAL, TIMEOUT = 5, 0.3, 1.5


def capture_one(port: int) -> str:
    """The first UDP frame to ``port`` seen on eth0, as hex (run inside a host's namespace)."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind(("eth0", 0))
    s.settimeout(5)
    while True:
        frame = s.recv(2048)
        if frame[12:14] == b"\x08\x00" and frame[23] == 17:
            ihl = (frame[14] & 0x0F) * 4
            if int.from_bytes(frame[14 + ihl + 2:14 + ihl + 4], "big") == port:
                return frame.hex()


def snapshot(sw: Swarm, t0: int) -> dict:
    states = [a.state() for a in sw.running()]
    return {"t_s": (time.monotonic_ns() - t0) / 1e9,
            "peers": {s["name"]: {"id": s["id"], "alive": s["alive"], "neighbours": s["neighbours"]} for s in states}}


def main() -> None:
    run: dict = {"recorded": time.strftime("%Y-%m-%d"), "interval": INTERVAL, "timeout": TIMEOUT}
    with Lab("lan", hosts=N) as lab:
        hosts = [f"h{i}" for i in range(1, N + 1)]
        run["addresses"] = {h: str(lab.addresses[h].ipv4) for h in hosts}
        t0 = time.monotonic_ns()
        with Swarm(lab.popen, hosts, interval=INTERVAL, timeout=TIMEOUT, links=1) as sw:
            forming = [snapshot(sw, t0) for _ in range(15) if not time.sleep(0.1)]
            run["forming"] = forming
            run["frame"] = lab.call("h1", capture_one, DISCOVERY_PORT)
            time.sleep(1.0)
            run["ids"] = {a.name: a.id for a in sw.agents}
            sw["p1"].send(say="hello, everyone")
            time.sleep(1.0)
            run["gossip"] = [dict(m, peer=a.name) for a in sw.agents for m in a.messages()]
            marks = {a.name: len(a.events) for a in sw.agents}
            killed = time.monotonic_ns()
            sw["p3"].send(crash=True)
            sw["p3"].proc.wait(5)
            kill_snaps = []
            while time.monotonic_ns() - killed < (TIMEOUT + 1.5) * 1e9:
                kill_snaps.append(snapshot(sw, killed))
                time.sleep(0.25)
            run["kill"] = {"victim": "p3", "snapshots": kill_snaps,
                           "events": [dict(e, peer=a.name, t_s=(e["at_ns"] - killed) / 1e9)
                                      for a in sw.agents if a.name != "p3" for e in a.events[marks[a.name]:]
                                      if e.get("ev") in ("join", "leave")]}
            marks = {a.name: len(a.events) for a in sw.agents}
            cut = time.monotonic_ns()
            lab.run("sw0", ["ip", "link", "set", "h5", "down"], check=True)
            snaps = []
            said = False
            while time.monotonic_ns() - cut < 4.0e9:
                snaps.append(snapshot(sw, cut))
                if not said and time.monotonic_ns() - cut > 2.5e9:
                    sw["p1"].send(say="said during the partition")
                    said = True
                time.sleep(0.25)
            healed = time.monotonic_ns()
            lab.run("sw0", ["ip", "link", "set", "h5", "up"], check=True)
            while time.monotonic_ns() - healed < 3.0e9:
                snaps.append(snapshot(sw, cut))
                time.sleep(0.25)
            sw["p2"].send(say="said after healing")
            time.sleep(1.0)
            run["partition"] = {"cut": "h5", "down_s": 0.0, "up_s": (healed - cut) / 1e9, "snapshots": snaps,
                                "events": [dict(e, peer=a.name, t_s=(e["at_ns"] - cut) / 1e9)
                                           for a in sw.running() for e in a.events[marks[a.name]:]
                                           if e.get("ev") in ("join", "leave", "message")]}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(run, indent=1) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
