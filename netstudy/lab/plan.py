"""From a Topology to the commands that build it: the `ip`, `sysctl`, `nft` and `tc` steps a person
would type, grouped so the lab can run them in a few batches (``ip -batch -``, ``nft -f -``).

``print(build_plan(lan(3), "demo"))`` shows every step; nothing here runs anything.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass

from netstudy.lab.system import netns_name
from netstudy.lab.topology import Topology

# Every namespace: no ICMP rate limits (a UDP scan meets one "port unreachable" per closed port, a
# traceroute one "time exceeded" per probe; an empty ratemask also exempts every type from the
# global icmp_msgs_per_sec budget, whose first tokens arrive only 20 ms after the namespace is born),
# no reverse-path filter, no duplicate address detection (IPv6 addresses usable at once, RFC 4862
# 5.4), and unprivileged ping stays as the kernel ships it.
SYSCTL_EVERY = (
    ("net.ipv4.icmp_ratelimit", "0"), ("net.ipv4.icmp_ratemask", "0"),
    ("net.ipv4.icmp_msgs_per_sec", "100000"), ("net.ipv4.icmp_msgs_burst", "100000"),
    ("net.ipv6.icmp.ratelimit", "0"), ("net.ipv6.icmp.ratemask", ""),   # empty mask: no ICMPv6 type limited
    ("net.ipv4.conf.all.rp_filter", "0"), ("net.ipv4.conf.default.rp_filter", "0"),
    ("net.ipv6.conf.all.accept_dad", "0"), ("net.ipv6.conf.default.accept_dad", "0"),
)
SYSCTL_ROUTER = (   # forward (RFC 1812); answer from the interface the packet came in on
    ("net.ipv4.ip_forward", "1"), ("net.ipv6.conf.all.forwarding", "1"),
    ("net.ipv4.icmp_errors_use_inbound_ifaddr", "1"),
)
SYSCTL_SWITCH = (   # a switch has no address of its own, so it stays silent on the wire
    ("net.ipv6.conf.all.disable_ipv6", "1"), ("net.ipv6.conf.default.disable_ipv6", "1"),
)
BRIDGE = "br0"
# Multicast snooping off: the bridge floods multicast to every port (P2P discovery works without
# an IGMP querier); STP off and no forward delay: ports forward at once.
BRIDGE_OPTIONS = "type bridge mcast_snooping 0 stp_state 0 forward_delay 0"


@dataclass(frozen=True)
class Plan:
    """The steps, in the order they run: namespaces, sysctls, links (created straight inside their
    namespaces, never in the machine's), per-namespace configuration, firewalls, qdiscs."""

    lab_id: str
    namespaces: tuple[str, ...]                     # node names; namespace = netstudy-ID-node
    sysctls: dict[str, list[tuple[str, str]]]
    links: tuple[str, ...]                          # `ip -batch` lines run in the machine's namespace
    configure: dict[str, list[str]]                 # `ip -n NS -batch` lines
    firewall: dict[str, str]                        # nft ruleset per host
    qdiscs: dict[str, list[str]]                    # `tc -n NS -batch` lines
    interfaces: dict[str, list[str]]                # the veth ends in each namespace, to wait for

    def ns(self, node: str) -> str:
        return netns_name(self.lab_id, node)

    def steps(self) -> list[tuple[list[str], str | None]]:
        """One command per step ``(argv, stdin)``: what a naive build runs one process at a time."""
        steps: list[tuple[list[str], str | None]] = [(["ip", "netns", "add", self.ns(n)], None)
                                                      for n in self.namespaces]
        steps += [(["ip", "netns", "exec", self.ns(n), "sysctl", "-qw", f"{k}={v}"], None)
                  for n, pairs in self.sysctls.items() for k, v in pairs]
        steps += [(["ip", *shlex.split(line)], None) for line in self.links]
        steps += [(["ip", "-n", self.ns(n), *shlex.split(line)], None)
                  for n, lines in self.configure.items() for line in lines]
        steps += [(["ip", "netns", "exec", self.ns(n), "nft", "-f", "-"], rules) for n, rules in self.firewall.items()]
        steps += [(["tc", "-n", self.ns(n), *shlex.split(line)], None)
                  for n, lines in self.qdiscs.items() for line in lines]
        return steps

    def __str__(self) -> str:
        out = []
        for argv, stdin in self.steps():
            out.append(shlex.join(argv) + (f" <<'EOF'\n{stdin}EOF" if stdin else ""))
        return "\n".join(out)


def build_plan(topology: Topology, lab_id: str) -> Plan:
    name = lambda node: netns_name(lab_id, node)   # noqa: E731
    sysctls: dict[str, list[tuple[str, str]]] = {}
    links: list[str] = []
    configure: dict[str, list[str]] = {}
    firewall: dict[str, str] = {}
    qdiscs: dict[str, list[str]] = {}
    up: dict[str, list[str]] = {}
    port_index = {sw.name: 100 for sw in topology.switches}
    for sw in topology.switches:
        sysctls[sw.name] = [*SYSCTL_EVERY, *SYSCTL_SWITCH]
        links.append(f"link add name {BRIDGE} netns {name(sw.name)} {BRIDGE_OPTIONS}")
        configure[sw.name] = ["link set dev lo up", f"link set dev {BRIDGE} up"]
        for host, _ in topology.members(sw.name):
            configure[sw.name] += [f"link set dev {host.name} master {BRIDGE}", f"link set dev {host.name} up"]
    for host in topology.hosts:
        sysctls[host.name] = [*SYSCTL_EVERY, *(SYSCTL_ROUTER if host.router else ())]
        lines = ["link set dev lo up"]
        for iface, nic in zip(topology.interfaces(host.name), host.nics, strict=True):
            # the veth pair is born with its ends already in the switch and the host: the switch end,
            # a bridge port, is named after the host (`bridge link` reads like a port map) and gets
            # ifindex 100+ so it never equals its peer's (an equal pair makes the kernel announce the
            # carrier up to a second late: linkwatch_urgent_event in net/core/link_watch.c)
            links.append(f"link add name {host.name} index {port_index[iface.switch]} netns {name(iface.switch)} "
                         f"type veth peer name {iface.name} address {iface.mac} netns {name(host.name)}")
            port_index[iface.switch] += 1
            up.setdefault(iface.switch, []).append(host.name)
            up.setdefault(host.name, []).append(iface.name)
            lines += [f"addr add {iface.ipv4} dev {iface.name}",
                      f"addr add {iface.ipv6} dev {iface.name} nodad",
                      f"link set dev {iface.name} up"]
            if nic.delay_ms or nic.loss_pct:
                qdiscs.setdefault(host.name, []).append(
                    f"qdisc add dev {iface.name} root netem delay {nic.delay_ms:g}ms loss {nic.loss_pct:g}%")
        lines += [f"route add {r.ip_args()}" for r in topology.routes(host.name)]
        configure[host.name] = lines
        if host.firewall:
            rules = "\n    ".join(rule.nft() for rule in host.firewall)
            firewall[host.name] = (f"table inet netstudy {{\n  chain input {{\n    type filter hook input priority 0; "
                                   f"policy accept;\n    {rules}\n  }}\n}}\n")
    return Plan(lab_id, topology.nodes, sysctls, tuple(links), configure, firewall, qdiscs, up)
