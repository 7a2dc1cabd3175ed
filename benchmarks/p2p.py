"""Gossip among N peers in the lab beside a chat server's fan-out to N clients, in one run.

    sudo .venv/bin/python benchmarks/p2p.py [--sizes 5 10 20] [--rounds 5] [--burst 300]

P2P: N agents (``python -m netstudy.p2p.agent``), one per namespace of the lab's ``lan``, multicast
discovery on eth0, links to the next 2 peers on the ring of ids. *Latency*: one message from p1, until
the last of the other N-1 peers has delivered it (every agent stamps deliveries with the monotonic
clock, which all namespaces of one machine share); the median of ``--rounds``. *Throughput*: ``--burst``
messages said by p1 as fast as it can, divided by the time until every peer has delivered all of them.

Chat: ``netstudy.chat.ChatServer`` and N ``ChatClient``s (one per peer: the sender and N-1 receivers), in
this process on loopback (the same kernel, no lab link); the same two measures, from the sender's
``say`` to the last receiver's line.
"""
from __future__ import annotations

import argparse
import statistics
import time

from netstudy.chat import ChatClient, ChatServer
from netstudy.lab import Lab
from netstudy.p2p.swarm import Swarm


def p2p(n: int, rounds: int, burst: int) -> tuple[float, float, float]:
    """(median latency ms, messages/s, mean hops) for N peers in the lab."""
    with Lab("lan", hosts=n) as lab, Swarm(lab.popen, [f"h{i}" for i in range(1, n + 1)], interval=0.3,
                                           timeout=2.0, links=2) as sw:
        if sw.converged(30) is None or not sw.linked(30):
            raise SystemExit(f"{n} peers did not converge")
        time.sleep(1.0)
        sender, others = sw.agents[0], sw.agents[1:]
        lat, hops = [], []
        for r in range(rounds):
            text = f"lat-{r}"
            sender.send(say=text)
            mine = sender.wait(lambda e, t=text: e.get("text") == t, 5)
            last = [o.wait(lambda e, t=text: e.get("text") == t, 10) for o in others]
            if mine is None or None in last:
                raise SystemExit(f"round {r}: not everyone got the message")
            lat.append((max(e["at_ns"] for e in last if e) - mine["at_ns"]) / 1e6)
            hops += [e["hops"] for e in last if e]
            time.sleep(0.1)
        sender.send(burst=[burst, "b-"])
        final = f"b-{burst - 1}"
        first = sender.wait(lambda e: e.get("text") == "b-0", 10)
        ends = [o.wait(lambda e: e.get("text") == final, 60) for o in others]
        if first is None or None in ends:
            raise SystemExit("the burst did not reach everyone")
        for o in others:
            got = [m["text"] for m in o.messages() if m["text"].startswith("b-")]
            assert len(got) == len(set(got)) == burst, (o.name, len(got))
        took = (max(e["at_ns"] for e in ends if e) - first["at_ns"]) / 1e9
        return statistics.median(lat), burst / took, statistics.mean(hops)


def chat(n: int, rounds: int, burst: int) -> tuple[float, float]:
    """(median latency ms, messages/s) for a chat server fanning out to N-1 clients."""
    with ChatServer() as srv:
        port = srv.address[1]
        clients = [ChatClient(f"c{i}", port=port) for i in range(n)]
        try:
            for c in clients:
                c.drain(0.1)
            sender, others = clients[0], clients[1:]
            lat = []
            for r in range(rounds):
                t0 = time.perf_counter_ns()
                sender.say(f"lat-{r}")
                for o in others:
                    o.recv_until(lambda ev, r=r: ev.text == f"lat-{r}", timeout=10)
                lat.append((time.perf_counter_ns() - t0) / 1e6)
            t0 = time.perf_counter_ns()
            for i in range(burst):
                sender.say(f"b-{i}")
            for o in others:
                o.recv_until(lambda ev: ev.text == f"b-{burst - 1}", timeout=60)
            took = (time.perf_counter_ns() - t0) / 1e9
            return statistics.median(lat), burst / took
        finally:
            for c in clients:
                c.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[5, 10, 20])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--burst", type=int, default=300)
    args = ap.parse_args()
    print(f"{'N':>3}  {'p2p ms':>8} {'chat ms':>8} {'ratio':>6}  {'p2p msg/s':>10} {'chat msg/s':>10} {'ratio':>6}"
          f"  {'mean hops':>9}")
    for n in args.sizes:
        p_lat, p_rate, hops = p2p(n, args.rounds, args.burst)
        c_lat, c_rate = chat(n, args.rounds, args.burst)
        print(f"{n:>3}  {p_lat:8.2f} {c_lat:8.2f} {p_lat / c_lat:6.1f}  {p_rate:10.0f} {c_rate:10.0f} "
              f"{p_rate / c_rate:6.2f}  {hops:9.2f}", flush=True)
    print("latency: one message until the last of N-1 others has it (median); ratio = p2p / chat. "
          "msg/s: a burst from one sender until everyone has all of it.")


if __name__ == "__main__":
    main()
