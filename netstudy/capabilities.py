"""What this machine lets this process do with the network, found by trying (not by guessing from the uid)."""
from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass, fields


def _can_open(family: int, kind: int, proto: int) -> bool:
    try:
        socket.socket(family, kind, proto).close()
        return True
    except (PermissionError, OSError):
        return False


def ping_group_range() -> tuple[int, int]:
    """``net.ipv4.ping_group_range``: the groups allowed unprivileged ICMP sockets (icmp(7)); ``(1, 0)`` is none."""
    try:
        with open("/proc/sys/net/ipv4/ping_group_range") as f:
            low, high = f.read().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return (1, 0)


def _ip_command() -> str | None:
    return shutil.which("ip") or shutil.which("ip", path="/usr/sbin:/sbin")


def _named_netns_possible(root: bool) -> bool:
    """Can this process create a named network namespace (what the lab does)? Found by making one.

    Being root is not always enough: in a chroot `ip -n NAME` cannot enter the namespace it made."""
    ip = _ip_command()
    if not root or ip is None:
        return False
    probe = f"netstudy-probe-{os.getpid()}"
    if subprocess.run([ip, "netns", "add", probe], capture_output=True).returncode:
        return False
    entered = subprocess.run([ip, "-n", probe, "link", "set", "lo", "up"], capture_output=True).returncode == 0
    subprocess.run([ip, "netns", "del", probe], capture_output=True)
    return entered


def _user_namespaces_possible() -> bool:
    """May this process enter a new user namespace (`unshare --user`)? Not in a chroot, nor where disabled."""
    unshare = shutil.which("unshare")
    return unshare is not None and subprocess.run([unshare, "--user", "true"], capture_output=True).returncode == 0


@dataclass(frozen=True)
class Capabilities:
    """One flag per mechanism the engines can use; ``str()`` is one readable line."""

    root: bool
    raw_sockets: bool        # SOCK_RAW for IPv4/IPv6: needs root or CAP_NET_RAW (raw(7))
    icmp_datagram: bool      # SOCK_DGRAM + IPPROTO_ICMP: allowed by net.ipv4.ping_group_range (icmp(7))
    af_packet: bool          # AF_PACKET link-layer capture: needs root or CAP_NET_RAW (packet(7))
    namespaces: bool         # named network namespaces (`ip netns add`), what the lab builds on: root
    user_namespaces: bool    # `unshare --user`: how tests drop privilege, and how a lab runs without root

    def __str__(self) -> str:
        yes_no = ", ".join(f"{f.name}={'yes' if getattr(self, f.name) else 'no'}" for f in fields(self))
        return f"capabilities: {yes_no}"


@functools.cache
def capabilities() -> Capabilities:
    """Probe this process's network privileges by trying each mechanism once (then remembered)."""
    root = os.geteuid() == 0
    return Capabilities(
        root=root,
        raw_sockets=_can_open(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
        icmp_datagram=_can_open(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP),
        af_packet=hasattr(socket, "AF_PACKET") and _can_open(socket.AF_PACKET, socket.SOCK_RAW, 0),
        namespaces=_named_netns_possible(root),
        user_namespaces=_user_namespaces_possible(),
    )
