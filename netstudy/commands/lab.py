"""`netstudy lab up|status|exec|down|draw`: a lab of network namespaces from the command line.

`up` starts a small holder process (its own session) that builds the lab and keeps it, with its
listening services, until `netstudy lab down` sends it SIGTERM.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys

from netstudy.commands.common import count, one_line_errors, stop_quietly_on_closed_pipe
from netstudy.errors import NetstudyError
from netstudy.lab import Lab, LabError, Topology, build_plan, cleanup, describe, load_topology, records
from netstudy.lab.runtime import enter_command
from netstudy.lab.system import netns_path, remove
from netstudy.lab.topology import MAX_LAN_HOSTS, MAX_SUBNETS, MIN_SUBNETS, TOPOLOGIES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lab", help="a virtual LAN of network namespaces: up, status, exec, down, draw")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    one_line_errors(p, "lab")

    def topology_args(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("topology", metavar="TOPOLOGY",
                            help=f"a built-in topology ({', '.join(TOPOLOGIES)}) or a .toml file")
        parser.add_argument("--hosts", type=count("hosts", 1, MAX_LAN_HOSTS),
                            help=f"lan: number of live hosts (default 5, at most {MAX_LAN_HOSTS})")
        parser.add_argument("--silent", type=count("silent hosts", 0, MAX_LAN_HOSTS),
                            help="lan: how many of them drop ICMP echo (default 0)")
        parser.add_argument("--subnets", type=count("subnets", MIN_SUBNETS, MAX_SUBNETS),
                            help=f"routed: subnets in the chain (default 3, {MIN_SUBNETS} to {MAX_SUBNETS})")
        one_line_errors(parser, f"lab {parser.prog.split()[-1]}")

    up = verbs.add_parser("up", help="build a lab and keep it until `netstudy lab down`")
    topology_args(up)
    up.add_argument("--dry-run", action="store_true", help="print the commands that would build it, build nothing")
    up.set_defaults(func=stop_quietly_on_closed_pipe(run_up))

    status = verbs.add_parser("status", help="list labs: owner, state, hosts and addresses")
    status.set_defaults(func=stop_quietly_on_closed_pipe(run_status))

    exe = verbs.add_parser("exec", help="run a command inside a lab host: netstudy lab exec HOST -- CMD ...")
    exe.add_argument("--lab", default="", metavar="ID", help="which lab, when several run")
    exe.add_argument("--unprivileged", action="store_true",
                     help="without any network privilege (a fresh user namespace, uid 65534)")
    exe.add_argument("host", metavar="HOST")
    exe.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD")
    exe.set_defaults(func=run_exec)

    down = verbs.add_parser("down", help="stop labs started by `up` and remove leftovers of crashed runs")
    down.add_argument("--lab", default="", metavar="ID", help="only this lab")
    down.set_defaults(func=stop_quietly_on_closed_pipe(run_down))

    draw = verbs.add_parser("draw", help="draw a topology to an image file (matplotlib)")
    topology_args(draw)
    draw.add_argument("-o", "--output", required=True, metavar="FILE", help="PNG, SVG or PDF file to write")
    draw.set_defaults(func=stop_quietly_on_closed_pipe(run_draw))


def _topology(args: argparse.Namespace) -> Topology:
    params = {k: getattr(args, k) for k in ("hosts", "silent", "subnets") if getattr(args, k) is not None}
    try:
        return load_topology(args.topology, **params)
    except TypeError:
        raise LabError(f"{args.topology} does not take {', '.join('--' + k for k in params)}") from None


def run_up(args: argparse.Namespace) -> int:
    topology = _topology(args)
    if args.dry_run:
        print(build_plan(topology, "ID"))
        return 0
    holder = subprocess.Popen([sys.executable, "-c", "from netstudy.commands.lab import hold; hold()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, start_new_session=True)
    assert holder.stdin and holder.stdout and holder.stderr
    lab_id = ""
    try:
        holder.stdin.write(json.dumps(topology.to_dict()))
        holder.stdin.close()
        building = holder.stdout.readline().split()          # "building ID", then "ready ID"
        lab_id = building[1] if building[:1] == ["building"] else ""
        ready = holder.stdout.readline().split() if lab_id else building
        if ready[:1] != ["ready"]:
            error = holder.stderr.read().strip().splitlines()
            holder.wait()
            raise LabError(error[-1] if error else f"the lab holder exited with {holder.returncode}")
        print(describe(topology, ready[1]))
        far = [h.name for h in topology.hosts if not h.router and h.name != topology.vantage][-1:] or [topology.vantage]
        print(f"held by pid {holder.pid}; try: netstudy lab exec {topology.vantage} -- ping -c1 "
              f"{topology.addresses(far[0]).ipv4}; remove with: netstudy lab down")
    except KeyboardInterrupt:   # Ctrl-C before `up` is done (exit 130): no lab. The holder, in its own
        _abandon(holder, lab_id)    # session, did not get the terminal's SIGINT: stop it and remove the lab
        raise
    return 0


def _abandon(holder: subprocess.Popen, lab_id: str) -> None:
    """`lab up` was interrupted before it was done: stop the holder (its SIGTERM handler tears the
    lab down), then remove whatever an `ip -batch` it had started still added (and the record)."""
    holder.terminate()
    try:
        holder.wait(timeout=15)
    except subprocess.TimeoutExpired:
        holder.kill()
        holder.wait()
    if lab_id:
        remove(lab_id, grace=0.2)


def hold() -> None:
    """The holder process: build the lab from the topology on stdin, saying "building ID" before and
    "ready ID" after, then wait for SIGTERM."""
    topology = Topology.from_dict(json.loads(sys.stdin.read()))
    try:
        lab = Lab(topology, detached=True)
        print("building", lab.id, flush=True)
        lab.start()
    except (NetstudyError, OSError, ValueError) as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)
    print("ready", lab.id, flush=True)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    while True:
        signal.pause()      # the lab's SIGTERM handler tears down and exits


def run_status(args: argparse.Namespace) -> int:
    found = records()
    if not found:
        print("no labs")
    for record in found:
        if not record.alive:
            state = "orphaned: its owner is gone (netstudy lab down removes it)"
        elif record.detached:
            state = f"up, held by pid {record.pid} (netstudy lab up)"
        else:
            state = f"in use by pid {record.pid}"
        print(f"lab {record.id}: {state}")
        if record.topology:
            print(describe(Topology.from_dict(record.topology), record.id))
    return 0


def run_exec(args: argparse.Namespace) -> int:
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        raise LabError("give a command after --, e.g. netstudy lab exec scanner -- ping -c1 10.0.0.10")
    running = [r for r in records() if r.alive and (not args.lab or r.id.startswith(args.lab))]
    running = [r for r in running if r.detached] or running     # labs from `lab up` first
    if len(running) != 1:
        ids = ", ".join(r.id for r in running)
        raise LabError(f"{len(running)} labs match: {ids}; choose one with --lab ID" if running
                       else "no lab is up: start one with netstudy lab up lan")
    path = netns_path(running[0].id, args.host)
    if not path.exists():
        raise LabError(f"lab {running[0].id} has no host {args.host!r}")
    argv = enter_command(path, cmd, unprivileged=args.unprivileged)
    os.execv(argv[0], argv)
    return 0   # not reached: the command replaced this process


def run_down(args: argparse.Namespace) -> int:
    done = cleanup(detached=True, lab_id=args.lab)
    for lab_id, what in done:
        print(f"lab {lab_id}: {what}")
    if not done:
        print("no labs" + (f" with id {args.lab}" if args.lab else ""))
    return 0


def run_draw(args: argparse.Namespace) -> int:
    from netstudy.lab.figures import draw_topology
    draw_topology(_topology(args)).savefig(args.output, dpi=120)
    print(f"wrote {args.output}")
    return 0
