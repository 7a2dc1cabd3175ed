"""The lab's contact with the system: running ``ip``/``nft``/``tc``, entering namespaces, and the
records under /run/netstudy that say which process owns which lab (so leftovers of a crashed run
can be told apart from a lab that another process is still using)."""
from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netstudy.errors import InputError, PrivilegeError

PREFIX = "netstudy-"
NETNS_DIR = Path("/run/netns")        # where `ip netns` keeps its bind mounts (iproute2's NETNS_RUN_DIR)
RUN_DIR = Path("/run/netstudy")       # one JSON record per lab: owner pid, its start time, topology
CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
CAP_NET_ADMIN, CAP_SYS_ADMIN = 12, 21
RTM_NEWLINK, RTM_GETLINK, NLM_F_REQUEST, NLM_F_DUMP = 16, 18, 0x1, 0x300       # rtnetlink(7)
NLMSG_ERROR, NLMSG_DONE, IFLA_IFNAME, IFLA_OPERSTATE, IF_OPER_UP = 2, 3, 3, 16, 6
_libc = ctypes.CDLL(None, use_errno=True)


class LabError(InputError):
    """What the lab cannot do as asked: a topology that does not hold together (a bad subnet, a name used
    twice, a malformed TOML file), a host it does not have, or a command that built or ran it and failed
    (then ``command`` is what ran, ``stderr`` what it said)."""

    def __init__(self, message: str, command: str = "", stderr: str = "") -> None:
        self.command, self.stderr = command, stderr
        super().__init__(message)


def netns_name(lab_id: str, node: str) -> str:
    return f"{PREFIX}{lab_id}-{node}"


def netns_path(lab_id: str, node: str) -> Path:
    return NETNS_DIR / netns_name(lab_id, node)


# -- running programs --------------------------------------------------------------------------------
def tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        package = {"ip": "iproute2", "tc": "iproute2", "nft": "nftables", "nsenter": "util-linux"}.get(name, name)
        raise LabError(f"the lab needs the {name} command: apt-get install {package}", name)
    return path


def run(argv: list[str], stdin: str | None = None, *, batch: Iterable[str] = ()) -> str:
    """Run one command (``stdin`` or ``batch`` lines on its standard input); LabError if it fails,
    naming the command and, for an ``ip -batch``/``tc -batch``, the line that failed."""
    lines = list(batch)
    text = "".join(line + "\n" for line in lines) if lines else stdin
    proc = subprocess.run([tool(argv[0]), *argv[1:]], input=text, capture_output=True, text=True)
    if proc.returncode:
        raise _failure(argv, lines, proc.stderr)
    return proc.stdout


def start(argv: list[str], batch: Iterable[str] = (), stdin: str | None = None) -> tuple[subprocess.Popen, list[str]]:
    """Start a command without waiting (several namespaces are configured at once); see :func:`wait`."""
    lines = list(batch)
    proc = subprocess.Popen([tool(argv[0]), *argv[1:]], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None
    try:
        proc.stdin.write("".join(line + "\n" for line in lines) if lines else (stdin or ""))
        proc.stdin.close()
    except BrokenPipeError:            # it stopped reading: it failed early; wait() reports its stderr
        pass
    return proc, lines


def wait(started: list[tuple[subprocess.Popen, list[str]]]) -> None:
    failures = []
    for proc, lines in started:
        stderr = proc.stderr.read() if proc.stderr else ""
        if proc.wait():
            args = proc.args if isinstance(proc.args, list) else [proc.args]    # start() gives a list
            failures.append(_failure([str(a) for a in args], lines, stderr))
    if failures:
        raise failures[0]


def _failure(argv: list[str], lines: list[str], stderr: str) -> LabError:
    command = shlex.join([Path(argv[0]).name, *argv[1:]])
    failed = re.search(r"Command failed -:(\d+)", stderr)
    where = f" at line {failed.group(1)} (`{lines[int(failed.group(1)) - 1]}`)" if failed and lines else ""
    reason = " ".join(line.strip() for line in stderr.splitlines() if line.strip() and "Command failed" not in line)
    return LabError(f"`{command}` failed{where}: {reason or 'no message'}", command, stderr)


# -- namespaces from Python --------------------------------------------------------------------------
def setns(fd: int, nstype: int = CLONE_NEWNET) -> None:
    """Move the calling thread into the namespace behind ``fd`` (setns(2); os.setns from 3.12)."""
    if hasattr(os, "setns"):
        os.setns(fd, nstype)
    elif _libc.setns(fd, nstype) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def unshare_user() -> None:
    """Enter a fresh user namespace (unshare(2)): the process keeps its files but loses every
    capability over the network namespace it is in, like an unprivileged user (uid shows as 65534)."""
    if hasattr(os, "unshare"):
        os.unshare(CLONE_NEWUSER)
    elif _libc.unshare(CLONE_NEWUSER) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWUSER): {os.strerror(err)}")


def in_each(nodes: Iterable[str], path_of: Callable[[str], Path], fn: Callable[[str], None]) -> None:
    """Call ``fn(node)`` with the calling thread inside each node's namespace in turn; the thread is
    back home afterwards, even when ``fn`` raises."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        for node in nodes:
            fd = os.open(path_of(node), os.O_RDONLY)
            try:
                setns(fd)
            finally:
                os.close(fd)
            fn(node)
    finally:
        setns(home)
        os.close(home)


def write_sysctls(settings: dict[str, list[tuple[str, str]]], path_of: Callable[[str], Path]) -> None:
    """Write ``net.*`` sysctls into many namespaces from this one thread, setns()ing into each in turn
    (/proc/sys/net shows the namespace of the thread that opens it): no process per namespace."""
    def write(node: str) -> None:
        for key, value in settings[node]:
            try:
                with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
                    f.write(value + "\n")
            except OSError as exc:
                raise LabError(f"sysctl {key}={value} in {node}: {exc.strerror}", f"sysctl -w {key}={value}") from None
    in_each(settings, path_of, write)


def operstates() -> dict[str, int]:
    """RFC 2863 operational state of every interface in this thread's namespace, by name: one
    RTM_GETLINK dump over rtnetlink (rtnetlink(7)); 6 is IF_OPER_UP."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as sock:
        sock.send(struct.pack("=IHHII", 32, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + bytes(16))
        states: dict[str, int] = {}
        while True:
            data, offset = sock.recv(1 << 16), 0
            while offset + 16 <= len(data):
                length, kind = struct.unpack_from("=IH", data, offset)
                if kind == NLMSG_DONE:
                    return states
                if kind == NLMSG_ERROR:
                    raise OSError(-struct.unpack_from("=i", data, offset + 16)[0], "rtnetlink RTM_GETLINK failed")
                name, state, attr = "", 0, offset + 32          # nlmsghdr (16) + ifinfomsg (16)
                while kind == RTM_NEWLINK and attr + 4 <= offset + length:
                    attr_len, attr_type = struct.unpack_from("=HH", data, attr)
                    if attr_type == IFLA_IFNAME:
                        name = data[attr + 4:attr + attr_len].rstrip(b"\0").decode()
                    elif attr_type == IFLA_OPERSTATE:
                        state = data[attr + 4]
                    attr += max(4, (attr_len + 3) & ~3)
                if name:
                    states[name] = state
                offset += max(16, (length + 3) & ~3)


def wait_until_up(expected: dict[str, list[str]], path_of: Callable[[str], Path], timeout: float = 5.0) -> None:
    """Wait until every listed interface is operationally up: the kernel reports carrier changes
    (which also enable a bridge port) from a deferred work item, up to a second after `link set up`."""
    deadline = time.monotonic() + timeout
    pending = dict(expected)

    def still_down(node: str) -> None:
        states = operstates()
        pending[node] = [i for i in pending[node] if states.get(i) != IF_OPER_UP]

    while pending:
        in_each(list(pending), path_of, still_down)
        for node in [node for node, names in pending.items() if not names]:
            del pending[node]
        if pending and time.monotonic() > deadline:
            late = ", ".join(f"{node}:{name}" for node, names in pending.items() for name in names)
            raise LabError(f"interfaces still down {timeout:g} s after the build: {late}", "ip link set up")
        if pending:
            time.sleep(0.02)


# -- privilege ---------------------------------------------------------------------------------------
def check_privilege() -> None:
    """PrivilegeError unless this process may create network namespaces and bind-mount them."""
    with open("/proc/self/status") as f:
        caps = int(next(line for line in f if line.startswith("CapEff:")).split()[1], 16)
    missing = [name for bit, name in ((CAP_SYS_ADMIN, "CAP_SYS_ADMIN"), (CAP_NET_ADMIN, "CAP_NET_ADMIN"))
               if not caps >> bit & 1]
    if missing:
        raise PrivilegeError(
            f"building a lab needs {' and '.join(missing)} (root) to create network namespaces; this "
            f"process (uid {os.getuid()}) has not. Run as root, or where unprivileged user namespaces are "
            "allowed inside `unshare --user --map-root-user --net --mount sh -c 'mount -t tmpfs netstudy "
            "/run && ...'`. No lab is built instead.")
    for directory in (NETNS_DIR, RUN_DIR):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if not os.access(directory, os.W_OK):
                raise PermissionError
        except PermissionError:
            raise PrivilegeError(
                f"cannot write {directory} (a user namespace's root does not own /run): mount a tmpfs on "
                "/run first, e.g. `unshare --user --map-root-user --net --mount sh -c 'mount -t tmpfs "
                "netstudy /run && ...'`") from None


# -- ownership records -------------------------------------------------------------------------------
def _start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (clock ticks since boot): with the pid it names a process uniquely.
    None for no process, or a zombie (it has exited; only its parent has not yet collected it)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])


@dataclass(frozen=True)
class LabRecord:
    """What /run/netstudy/ID.json says about a lab: who owns it and what it is."""

    id: str
    pid: int
    start_time: int | None
    detached: bool                 # built by `netstudy lab up`: `netstudy lab down` may stop it
    topology: dict[str, Any]

    @property
    def alive(self) -> bool:
        return self.start_time is not None and _start_time(self.pid) == self.start_time

    @property
    def path(self) -> Path:
        return RUN_DIR / f"{self.id}.json"

    def save(self) -> None:
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"id": self.id, "pid": self.pid, "start_time": self.start_time,
                                   "detached": self.detached, "topology": self.topology}))
        tmp.replace(self.path)

    @classmethod
    def mine(cls, lab_id: str, detached: bool, topology: dict[str, Any]) -> LabRecord:
        return cls(lab_id, os.getpid(), _start_time(os.getpid()), detached, topology)


def records() -> list[LabRecord]:
    """Every lab record, sorted by id; a namespace without a record appears with pid 0 (orphaned)."""
    found: dict[str, LabRecord] = {}
    for path in sorted(RUN_DIR.glob("*.json")) if RUN_DIR.is_dir() else ():
        try:
            data = json.loads(path.read_text())
            found[data["id"]] = LabRecord(data["id"], data["pid"], data["start_time"], data["detached"],
                                          data["topology"])
        except (OSError, ValueError, KeyError):
            continue          # being written or removed right now; the next look will see it
    for lab_id in {name[len(PREFIX):].split("-", 1)[0] for name in lab_namespaces()}:
        found.setdefault(lab_id, LabRecord(lab_id, 0, None, False, {}))
    return [found[k] for k in sorted(found)]


def lab_namespaces(lab_id: str = "") -> list[str]:
    prefix = PREFIX + (f"{lab_id}-" if lab_id else "")
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix)) if NETNS_DIR.is_dir() else []


def kill_processes_in(paths: list[Path]) -> list[int]:
    """SIGKILL every process whose network namespace is one of ``paths`` (what `ip netns pids` finds);
    a namespace lives on, invisible, while a process is inside it."""
    inodes = set()
    for path in paths:
        try:
            inodes.add(os.stat(path).st_ino)
        except OSError:
            continue
    killed = []
    for entry in os.listdir("/proc") if inodes else ():
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            if os.stat(f"/proc/{entry}/ns/net").st_ino in inodes:
                os.kill(int(entry), signal.SIGKILL)
                killed.append(int(entry))
        except OSError:
            continue
    return killed


def remove(lab_id: str, grace: float = 0.0) -> list[str]:
    """Delete a lab's namespaces (and so every link and bridge in them) and its record. With
    ``grace``, look again after that long: an `ip -batch` of an owner that was just killed may
    still be adding namespaces."""
    removed: list[str] = []
    deadline = time.monotonic() + grace + 3.0
    while True:
        names = lab_namespaces(lab_id)
        if not names and grace > 0:
            time.sleep(grace)
            grace = 0.0
            continue
        if not names:
            break
        if time.monotonic() > deadline:
            raise LabError(f"could not remove {', '.join(names)}", "ip netns del")
        kill_processes_in([NETNS_DIR / n for n in names])
        # -force went on past a namespace another cleaner removed first: look again
        with contextlib.suppress(LabError):
            run(["ip", "-force", "-batch", "-"], batch=[f"netns del {n}" for n in names])
        removed += names
    (RUN_DIR / f"{lab_id}.json").unlink(missing_ok=True)
    return removed


def stop_owner(record: LabRecord, timeout: float = 10.0) -> None:
    """Ask the process holding a detached lab to tear it down (SIGTERM), and wait for it."""
    try:
        os.kill(record.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    except PermissionError:
        raise PrivilegeError(f"lab {record.id} is held by pid {record.pid}, a process of another user: only "
                             f"root or that user can stop it (sudo netstudy lab down)") from None
    deadline = time.monotonic() + timeout
    while record.alive and time.monotonic() < deadline:
        time.sleep(0.05)
