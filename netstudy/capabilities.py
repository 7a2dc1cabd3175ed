"""What this machine lets this process do with the network, found by trying (not by guessing from the uid)."""
from __future__ import annotations

import os
import shutil
import socket
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


def _namespaces_possible(root: bool) -> bool:
    if shutil.which("ip") is None and not os.path.exists("/usr/sbin/ip") and not os.path.exists("/sbin/ip"):
        return False
    if root:
        return True
    try:  # unprivileged user namespaces (`unshare --user --net --map-root-user`)
        with open("/proc/sys/kernel/unprivileged_userns_clone") as f:
            if f.read().strip() == "0":
                return False
    except OSError:
        pass
    try:
        with open("/proc/sys/user/max_user_namespaces") as f:
            return int(f.read()) > 0
    except (OSError, ValueError):
        return False


@dataclass(frozen=True)
class Capabilities:
    """One flag per mechanism the engines can use; ``str()`` is one readable line."""

    root: bool
    raw_sockets: bool        # SOCK_RAW for IPv4/IPv6: needs root or CAP_NET_RAW (raw(7))
    icmp_datagram: bool      # SOCK_DGRAM + IPPROTO_ICMP: allowed by net.ipv4.ping_group_range (icmp(7))
    af_packet: bool          # AF_PACKET link-layer capture: needs root or CAP_NET_RAW (packet(7))
    namespaces: bool         # `ip netns` (root) or unprivileged user namespaces

    def __str__(self) -> str:
        yes_no = ", ".join(f"{f.name}={'yes' if getattr(self, f.name) else 'no'}" for f in fields(self))
        return f"capabilities: {yes_no}"


def capabilities() -> Capabilities:
    """Probe this process's network privileges by opening (and closing) each kind of socket once."""
    root = os.geteuid() == 0
    return Capabilities(
        root=root,
        raw_sockets=_can_open(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
        icmp_datagram=_can_open(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP),
        af_packet=hasattr(socket, "AF_PACKET") and _can_open(socket.AF_PACKET, socket.SOCK_RAW, 0),
        namespaces=_namespaces_possible(root),
    )
