"""`Lab`: build a Topology out of network namespaces, run things inside it, tear it down."""
from __future__ import annotations

import atexit
import multiprocessing
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from netstudy.lab.plan import Plan, build_plan
from netstudy.lab.services import Services
from netstudy.lab.system import (
    LabError,
    LabRecord,
    check_privilege,
    lab_namespaces,
    netns_name,
    netns_path,
    records,
    remove,
    run,
    setns,
    start,
    stop_owner,
    tool,
    unshare_user,
    wait,
    wait_until_up,
    write_sysctls,
)
from netstudy.lab.topology import Addresses, Host, Topology, load_topology

UNPRIVILEGED_UID = 65534   # nobody


def cleanup(*, detached: bool = False, lab_id: str = "") -> list[tuple[str, str]]:
    """Remove leftovers of crashed runs: every lab whose owner process is gone (or that has no
    record). Labs whose owner still runs are left alone, except, with ``detached=True``, those
    started by ``netstudy lab up``, whose owner is asked to tear down. ``lab_id`` limits it to one
    lab. Returns ``(lab id, what happened)`` for every lab looked at."""
    done = []
    for record in records():
        if lab_id and record.id != lab_id:
            continue
        if not record.alive:
            remove(record.id, grace=0.2)
            done.append((record.id, "removed (its owner had died)" if record.pid else "removed (no owner record)"))
        elif detached and record.detached:
            stop_owner(record)
            if record.alive or lab_namespaces(record.id):
                remove(record.id)
            done.append((record.id, "stopped"))
        else:
            done.append((record.id, f"left alone: pid {record.pid} is using it"))
    return done


def describe(topology: Topology, lab_id: str) -> str:
    """A table of every host's namespace and addresses (what `netstudy lab up/status` prints)."""
    rows = [("host", "namespace", "iface", "ipv4", "ipv6", "mac")]
    for host in topology.hosts:
        for iface in topology.interfaces(host.name):
            rows.append((host.name + (" (router)" if host.router else ""), netns_name(lab_id, host.name),
                         iface.name, str(iface.ipv4), str(iface.ipv6), iface.mac))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    switches = ", ".join(f"{s.name} {s.subnet} {s.subnet6}" for s in topology.switches)
    absent = f"; absent: {', '.join(topology.absent)}" if topology.absent else ""
    return f"lab {lab_id} ({topology.name}): switches {switches}{absent}\n" + "\n".join(lines)


def enter_command(netns: Path, argv: Sequence[str], *, unprivileged: bool = False,
                  user: int | None = None) -> list[str]:
    """The argv that runs ``argv`` inside a namespace: ``nsenter --net=/run/netns/NAME -- argv``.

    ``unprivileged=True`` adds ``unshare --user --map-user=65534 --map-group=65534``: the program
    keeps read access to files (a Python under /root still starts) but has no network privilege (no
    raw, ICMP-datagram or AF_PACKET socket unless the namespace's ping_group_range allows ICMP
    datagram sockets). ``user=UID`` switches the real uid and gid instead (nsenter -S/-G).
    """
    if not argv:
        raise LabError("an empty command: give the program and its arguments, e.g. ['ping', '-c1', '10.0.0.10']")
    program = shutil.which(argv[0]) or shutil.which(argv[0], path="/usr/sbin:/sbin") or argv[0]
    cmd = [tool("nsenter"), f"--net={netns}"]
    if user is not None:
        cmd += [f"--setuid={user}", f"--setgid={user}"]
    cmd.append("--")
    if unprivileged:
        cmd += [tool("unshare"), "--user", f"--map-user={UNPRIVILEGED_UID}", f"--map-group={UNPRIVILEGED_UID}", "--"]
    return cmd + [program, *map(str, argv[1:])]


def _call_child(conn: Any, path: str, unprivileged: bool, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    """In the forked child: enter the namespace, run ``fn``, send back ("ok", value) or the error."""
    for signum in (signal.SIGTERM, signal.SIGHUP):   # the parent's lab handlers are not this child's
        signal.signal(signum, signal.SIG_DFL)
    try:
        fd = os.open(path, os.O_RDONLY)
        setns(fd)
        os.close(fd)
        if unprivileged:
            unshare_user()
        answer: tuple = ("ok", fn(*args, **kwargs), "")
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the caller
        answer = ("error", exc, traceback.format_exc())
    try:
        conn.send(answer)
    except Exception as exc:  # the value or the exception does not pickle: say so in a LabError
        what = (f"{type(answer[1]).__name__}: {answer[1]}" if answer[0] == "error"
                else f"its result cannot be pickled ({exc})")
        conn.send(("error", LabError(f"{getattr(fn, '__name__', fn)} in the lab: {what}"), answer[2]))
    finally:
        conn.close()


class Lab:
    """A running topology. ``with Lab("lan", hosts=20) as lab: lab.run("scanner", ["ping", ...])``.

    Every namespace is ``netstudy-<id>-<node>``; ``lab.id`` is 6 random hex digits, so labs in
    different processes (or the same one) never collide.
    """

    def __init__(self, topology: Topology | str | dict[str, Any] = "lan", *, detached: bool = False,
                 **params: int) -> None:
        self.topology = load_topology(topology, **params)
        self.id = self._fresh_id()
        self.plan: Plan = build_plan(self.topology, self.id)
        self.detached = detached
        self._popens: list[subprocess.Popen] = []
        self._services: Services | None = None
        self._state = "new"
        self._lock = threading.RLock()
        self._previous_handlers: dict[int, Any] = {}
        self._owner = os.getpid()

    @staticmethod
    def _fresh_id() -> str:
        while True:
            lab_id = secrets.token_hex(3)
            if not lab_namespaces(lab_id) and all(r.id != lab_id for r in records()):
                return lab_id

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> Lab:
        """Clean up leftovers of crashed labs, then build this one (``with`` calls this)."""
        if self._state != "new":
            raise LabError(f"lab {self.id} is {self._state}; build a new Lab instead")
        check_privilege()
        try:
            cleanup()
        except LabError as exc:      # a stubborn leftover must not stop a new lab from being built
            warnings.warn(f"netstudy.lab: could not remove a leftover lab: {exc}", RuntimeWarning, stacklevel=2)
        self._owner = os.getpid()
        self._services = Services()
        self._state = "building"
        LabRecord.mine(self.id, self.detached, self.topology.to_dict()).save()
        self._install_signal_handlers()
        atexit.register(self.close)
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        self._state = "running"
        return self

    def _build(self) -> None:
        plan = self.plan
        run(["ip", "-batch", "-"], batch=[f"netns add {plan.ns(n)}" for n in plan.namespaces])
        write_sysctls(plan.sysctls, self.netns_path)
        run(["ip", "-batch", "-"], batch=plan.links)
        nft = tool("nft") if plan.firewall else ""
        wait([start(["ip", "-n", plan.ns(n), "-batch", "-"], lines) for n, lines in plan.configure.items()]
             + [start(["nsenter", f"--net={self.netns_path(n)}", "--", nft, "-f", "-"], stdin=rules)
                for n, rules in plan.firewall.items()])
        try:
            wait([start(["tc", "-n", plan.ns(n), "-batch", "-"], lines) for n, lines in plan.qdiscs.items()])
        except LabError as exc:
            raise LabError("link delay/loss needs the kernel's netem queueing discipline (sch_netem), which "
                           f"this kernel does not offer: {exc}. Remove delay_ms/loss_pct from the topology.",
                           exc.command, exc.stderr) from None
        wait_until_up(plan.interfaces, self.netns_path)
        for host in self.topology.hosts:
            for service in host.services:
                self._serve(host.name, service.proto, service.port, service.banner)

    def close(self) -> None:
        """Tear down: stop services and programs started here, delete every namespace. Idempotent."""
        if os.getpid() != self._owner:   # a forked child (multiprocessing, os.fork) never tears down
            return
        with self._lock:             # re-entrant: a signal may arrive while close() runs
            if self._state in ("closing", "closed"):
                return
            previous, self._state = self._state, "closing"
        if previous == "new":
            self._state = "closed"
            return
        try:
            if self._services is not None:
                self._services.close()
            for proc in self._popens:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
            remove(self.id)
        finally:
            self._state = "closed"
            self._restore_signal_handlers()
            atexit.unregister(self.close)

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _install_signal_handlers(self) -> None:
        """On SIGTERM/SIGHUP: tear down, then do what was there before (exit by default). SIGINT
        raises KeyboardInterrupt, which ``with`` (or the build's own ``except``) turns into a teardown."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGTERM, signal.SIGHUP):
            previous = signal.getsignal(signum)
            if previous is not signal.SIG_IGN:
                self._previous_handlers[signum] = previous
                signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        previous = self._previous_handlers.get(signum)
        self.close()
        if callable(previous):
            previous(signum, frame)
        else:
            raise SystemExit(128 + signum)

    def _restore_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, previous in self._previous_handlers.items():
            if signal.getsignal(signum) == self._on_signal:
                signal.signal(signum, previous)
        self._previous_handlers.clear()

    # -- what is in it ---------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    @property
    def hosts(self) -> dict[str, Host]:
        """Hosts and routers by name (switches are in ``lab.topology.switches``)."""
        return {h.name: h for h in self.topology.hosts}

    @property
    def addresses(self) -> dict[str, Addresses]:
        """``lab.addresses["h1"].ipv4`` -> "10.0.0.10"; also ``.ipv6``, ``.link_local``, ``.mac``."""
        return {h.name: self.topology.addresses(h.name) for h in self.topology.hosts}

    @property
    def vantage(self) -> str:
        return self.topology.vantage

    @property
    def absent(self) -> tuple[str, ...]:
        return self.topology.absent

    def netns_name(self, node: str) -> str:
        self._check_node(node)
        return netns_name(self.id, node)

    def netns_path(self, node: str) -> Path:
        self._check_node(node)
        return netns_path(self.id, node)

    def _check_node(self, node: str) -> None:
        if node not in self.topology.nodes:
            raise LabError(f"lab {self.id} has no host or switch {node!r} (it has: {', '.join(self.topology.nodes)})")

    def __repr__(self) -> str:
        return (f"Lab(id={self.id!r}, topology={self.topology.name!r}, nodes={len(self.topology.nodes)}, "
                f"state={self._state!r})")

    def __str__(self) -> str:
        return describe(self.topology, self.id)

    # -- running things inside -------------------------------------------------------------------
    def command(self, host: str, argv: Sequence[str], *, unprivileged: bool = False,
                user: int | None = None) -> list[str]:
        """The argv that runs ``argv`` inside ``host`` (see :func:`enter_command`)."""
        return enter_command(self.netns_path(host), argv, unprivileged=unprivileged, user=user)

    def run(self, host: str, argv: Sequence[str], *, timeout: float = 30.0, check: bool = False,
            input: str | None = None, unprivileged: bool = False,
            user: int | None = None) -> subprocess.CompletedProcess:
        """Run a program inside ``host`` and wait: a CompletedProcess with text stdout/stderr.
        ``check=True`` raises LabError (with the command and its stderr) on a non-zero exit."""
        self._check_running()
        cmd = self.command(host, argv, unprivileged=unprivileged, user=user)
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode:
            shown = shlex.join(map(str, argv))
            said = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
            raise LabError(f"`{shown}` in {host} exited with {proc.returncode}: {said}", shown, proc.stderr)
        return proc

    def popen(self, host: str, argv: Sequence[str], *, unprivileged: bool = False, user: int | None = None,
              **popen_kwargs: Any) -> subprocess.Popen:
        """Start a program inside ``host`` (keyword arguments go to subprocess.Popen); the lab kills
        it at teardown if it still runs."""
        self._check_running()
        proc = subprocess.Popen(self.command(host, argv, unprivileged=unprivileged, user=user), **popen_kwargs)
        self._popens.append(proc)
        return proc

    def call(self, host: str, fn: Callable[..., Any], *args: Any, timeout: float = 60.0,
             unprivileged: bool = False, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` in a forked child that entered ``host``'s namespace (setns(2))
        and return its value (which must pickle), or raise the exception it raised, with the child's
        traceback attached as a note. ``unprivileged=True`` first drops every network privilege (a
        new user namespace), as for a non-root user. The child is killed after ``timeout`` s."""
        self._check_running()
        path = str(self.netns_path(host))
        ctx = multiprocessing.get_context("fork")
        receiver, sender = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_call_child, args=(sender, path, unprivileged, fn, args, kwargs), daemon=True)
        child.start()
        sender.close()
        name = getattr(fn, "__name__", repr(fn))
        try:
            if not receiver.poll(timeout):
                raise TimeoutError(f"{name} in {host} gave no answer within {timeout:g} s")
            status, value, child_traceback = receiver.recv()
        except EOFError:
            child.join(5)
            raise LabError(f"{name} in {host}: the child process died (exit code {child.exitcode}) "
                           "without answering") from None
        finally:
            receiver.close()
            if child.is_alive():
                child.kill()
            child.join()
        if status == "ok":
            return value
        if hasattr(value, "add_note") and child_traceback:
            value.add_note(f"in lab host {host}:\n{child_traceback}")
        raise value

    @contextmanager
    def inside(self, host: str) -> Iterator[None]:
        """Move the calling thread into ``host``'s namespace for the ``with`` block: sockets created
        there belong to the lab (and stay in it afterwards). Only this thread moves; do not
        ``await`` inside the block (other tasks of the event loop would run in the lab too)."""
        self._check_running()
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(self.netns_path(host), os.O_RDONLY)
        try:
            setns(target)
            yield
        finally:
            setns(home)
            os.close(home)
            os.close(target)

    def _serve(self, host: str, proto: str, port: int, banner: bytes = b"") -> tuple[str, int]:
        assert self._services is not None       # _check_running() made sure the lab was started
        with self.inside(host):
            sock = Services.listener(proto, port)
        self._services.add(sock, banner)
        return self.addresses[host].ipv4, port

    def serve_tcp(self, host: str, port: int, banner: bytes = b"") -> tuple[str, int]:
        """Listen on TCP ``port`` on every address of ``host``; each connection gets ``banner`` and an
        echo. Served by a thread of this process until teardown. Returns (host's IPv4, port)."""
        self._check_running()
        return self._serve(host, "tcp", port, banner)

    def serve_udp(self, host: str, port: int) -> tuple[str, int]:
        """Echo every datagram sent to UDP ``port`` of ``host``. Returns (host's IPv4, port)."""
        self._check_running()
        return self._serve(host, "udp", port)

    def sysctl(self, host: str, key: str, value: str) -> None:
        """Set a ``net.*`` sysctl inside ``host`` only (e.g. ``net.ipv4.ip_default_ttl``)."""
        self._check_running()
        write_sysctls({host: [(key, value)]}, self.netns_path)

    def open_ping_group_range(self, host: str, low: int = 0, high: int = 2147483647) -> None:
        """Allow unprivileged ICMP echo sockets (SOCK_DGRAM, IPPROTO_ICMP; icmp(7)) in ``host`` for the
        groups low..high. The machine's own setting is untouched: the sysctl is per namespace. (Under
        a user namespace only mapped groups are accepted: use low=high=0 there.)"""
        self.sysctl(host, "net.ipv4.ping_group_range", f"{low} {high}")

    def _check_running(self) -> None:
        if self._state not in ("running", "building"):
            raise LabError(f"lab {self.id} is {self._state}: use it inside `with Lab(...) as lab:` "
                           "(or after lab.start())")
