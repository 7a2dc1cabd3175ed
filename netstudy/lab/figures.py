"""A drawing of a lab topology: switches (bridges) in a row, routers between them, hosts below, every
interface labelled with its addresses; firewall rules, open services and absent addresses noted."""
from __future__ import annotations

import ipaddress
from collections import deque
from typing import TYPE_CHECKING, Any

from netstudy.lab.topology import Host, Topology, load_topology
from netstudy.show.diagram import plot_figure

if TYPE_CHECKING:
    from netstudy.lab.runtime import Lab

HOST_W, HOST_H = 1.75, 0.95         # a host's box, in data units (about an inch each)
COL_W, ROW_H = 2.0, 1.55            # the grid hosts sit on below their switch
SWITCH_H, GAP, RADIUS = 0.9, 3.6, 0.42
MAX_COLS = 7
COLORS = {"switch": "#4e79a7", "router": "#f28e2b", "router_text": "#8a4b08", "host": "#e8eef6",
          "vantage": "#ffd27f", "firewall": "#c0392b", "line": "#555555", "note": "#666666"}


def _switch_order(topology: Topology) -> list[str]:
    """Switches in breadth-first order from the vantage host's switch, hopping across routers."""
    start = topology.host(topology.vantage).nics[0].switch
    order, queue = [start], deque([start])
    while queue:
        for router, _ in topology.members(queue.popleft()):
            for nic in router.nics if router.router else ():
                if nic.switch not in order:
                    order.append(nic.switch)
                    queue.append(nic.switch)
    return order + [s.name for s in topology.switches if s.name not in order]


def _ports(host: Host) -> str:
    """'open: tcp 22,80' / 'drop: tcp 25 udp 69' / 'drop: ping' lines for a host's services and rules."""
    groups: dict[str, dict[str, list[str]]] = {}
    for service in host.services:
        groups.setdefault("open", {}).setdefault(service.proto, []).append(str(service.port))
    for rule in host.firewall:
        protos = groups.setdefault(rule.action, {})
        if rule.proto == "icmp":
            protos.setdefault("ping", [])
        else:
            protos.setdefault(rule.proto, []).append(str(rule.port))
    return "\n".join(f"{state}: " + " ".join(f"{proto} {','.join(ports)}".strip() for proto, ports in protos.items())
                     for state, protos in groups.items())


def _box(ax: Any, cx: float, cy: float, w: float, h: float, face: str, edge: str, lw: float = 1.0) -> None:
    from matplotlib.patches import FancyBboxPatch
    ax.add_patch(FancyBboxPatch((cx - w / 2, cy - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.12",
                                facecolor=face, edgecolor=edge, linewidth=lw, zorder=2))


def draw_topology(topology_or_lab: Topology | Lab | str, *, ipv6: bool = True) -> Any:
    """Draw a Topology, a Lab's topology, or a built-in one by name; returns the matplotlib Figure.

    Switches are blue bars (a Linux bridge each) with their IPv4 and IPv6 subnets; routers orange
    circles with the address of each interface on its link; hosts boxes with their addresses, the
    vantage host (``scanner``) in yellow, a host with firewall rules framed in red with its open and
    filtered ports beneath. ``ipv6=False`` leaves out the ULA addresses for a lighter picture.
    Returns a matplotlib ``Figure``.
    """
    from matplotlib.patches import Circle

    lab: Any = topology_or_lab if hasattr(topology_or_lab, "topology") else None
    topology: Topology = lab.topology if lab is not None else load_topology(topology_or_lab)  # type: ignore[arg-type]
    order = _switch_order(topology)
    plain = {name: [h for h, nic in topology.members(name) if not h.router and h.nics[0].switch == name]
             for name in order}
    fig, ax = plot_figure(6.4, 4.8)        # resized to the drawing below

    # each switch is as wide as the grid of its hosts; a router gap separates neighbours
    centres, widths, x = {}, {}, 0.0
    for name in order:
        cols = max(1, min(MAX_COLS, len(plain[name])))
        bussed = len(plain[name]) > MAX_COLS          # several rows: each row hangs off a bus
        widths[name] = max(3.2, cols * COL_W - 0.2 + (0.6 if bussed else 0.0))
        centres[name] = x + widths[name] / 2
        x += widths[name] + GAP
    bottom = -SWITCH_H / 2

    for sw in topology.switches:
        cx, width, hosts = centres[sw.name], widths[sw.name], plain[sw.name]
        _box(ax, cx, 0, width, SWITCH_H, COLORS["switch"], COLORS["switch"])
        label = f"{sw.name}  (bridge br0)\n{sw.subnet}" + (f"\n{sw.subnet6}" if ipv6 else "")
        ax.text(cx, 0, label, ha="center", va="center", color="white", fontsize=8.5, fontweight="bold", zorder=3)
        absent = [a for a in topology.absent if ipaddress.IPv4Address(a) in sw.network]
        if absent:
            ax.text(cx - width / 2, SWITCH_H / 2 + 0.12, "absent (no host answers): " + ", ".join(absent),
                    ha="left", va="bottom", fontsize=7.5, style="italic", color=COLORS["note"])
        bussed = len(hosts) > MAX_COLS
        trunk = cx - width / 2 + 0.25
        for index, host in enumerate(hosts):
            row, col = divmod(index, MAX_COLS)
            in_row = min(MAX_COLS, len(hosts) - row * MAX_COLS)
            hx = cx + (0.3 if bussed else 0.0) + (col - (in_row - 1) / 2) * COL_W
            hy = -1.55 - row * ROW_H
            if bussed:   # a drop from this row's bus, and the bus back to the trunk
                bus = hy + HOST_H / 2 + 0.2
                ax.plot([trunk, hx, hx], [bus, bus, hy + HOST_H / 2], color=COLORS["line"], lw=1, zorder=1)
                ax.plot([trunk, trunk], [-SWITCH_H / 2, bus], color=COLORS["line"], lw=1.6, zorder=1)
            else:
                ax.plot([hx, hx], [hy + HOST_H / 2, -SWITCH_H / 2], color=COLORS["line"], lw=1, zorder=1)
            vantage, guarded = host.name == topology.vantage, bool(host.firewall)
            _box(ax, hx, hy, HOST_W, HOST_H, COLORS["vantage" if vantage else "host"],
                 COLORS["firewall"] if guarded else COLORS["line"], lw=2.2 if guarded else 1.0)
            addrs = topology.addresses(host.name)
            text = f"{host.name}{'  (vantage)' if vantage else ''}\n{addrs.ipv4}" + (f"\n{addrs.ipv6}" if ipv6 else "")
            ax.text(hx, hy, text, ha="center", va="center", fontsize=7.5, zorder=3, linespacing=1.25)
            bottom = min(bottom, hy - HOST_H / 2 - 0.3)
            ports = _ports(host)
            if ports:
                ax.text(hx, hy - HOST_H / 2 - 0.1, ports, ha="center", va="top", fontsize=6.8, zorder=3,
                        color=COLORS["firewall"] if guarded else COLORS["note"],
                        bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
                bottom = min(bottom, hy - HOST_H / 2 - 0.25 - 0.2 * (ports.count("\n") + 1))

    # routers: in the gap between two neighbouring switches, else above the switches they join
    top = SWITCH_H / 2 + 0.5
    used_slots: dict[tuple[str, ...], int] = {}
    for router in topology.routers:
        names = sorted((nic.switch for nic in router.nics), key=order.index)
        between = len(names) == 2 and order.index(names[1]) - order.index(names[0]) == 1
        key = tuple(names) if between else ("above",)
        slot = used_slots[key] = used_slots.get(key, -1) + 1
        if between:
            rx, ry = centres[names[0]] + widths[names[0]] / 2 + GAP / 2, 1.4 * slot
        else:
            rx, ry = sum(centres[n] for n in names) / len(names), 1.9 + 1.4 * slot
        top = max(top, ry + RADIUS + 0.5)
        for nic in router.nics:
            sx, half = centres[nic.switch], widths[nic.switch] / 2
            ex, ey = (sx - half if sx > rx else sx + half, 0.0) if between else (sx, SWITCH_H / 2)
            ax.plot([rx, ex], [ry, ey], color=COLORS["router"], lw=2, zorder=1)
            six = topology.switch(nic.switch).ipv6_for(ipaddress.IPv4Address(nic.ip))
            upright = abs(ex - rx) < 0.5             # a vertical link: label beside it, not on it
            ax.text(rx + 0.56 * (ex - rx) + (0.12 if upright else 0.0),
                    ry + 0.56 * (ey - ry) + (0.0 if upright else 0.1),
                    nic.ip + (f"\n{six}" if ipv6 else ""), ha="left" if upright else "center",
                    va="center" if upright else "bottom", fontsize=6.8, color=COLORS["router_text"], zorder=3,
                    linespacing=1.2)
        ax.add_patch(Circle((rx, ry), RADIUS, facecolor=COLORS["router"], edgecolor=COLORS["router_text"],
                                lw=1.2, zorder=2))
        ax.text(rx, ry, router.name, ha="center", va="center", fontsize=9, fontweight="bold", color="white", zorder=3)

    left, right = -0.3, x - GAP + 0.3
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.set_size_inches(max(5.5, 0.9 * (right - left)), 0.9 * (top - bottom) + 0.6)
    routers = len(topology.routers)
    counts = (f"{len(topology.hosts) - routers} hosts, {len(topology.switches)} switch"
              f"{'es' if len(topology.switches) != 1 else ''}, {routers} router{'s' if routers != 1 else ''}")
    where = f"\nlab {lab.id}: namespaces netstudy-{lab.id}-<name>" if lab is not None else ""
    ax.set_title(f"Lab topology '{topology.name}': {counts}{where}", fontsize=10.5)
    fig.tight_layout()
    return fig
