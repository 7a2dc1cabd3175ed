"""The lab: a virtual LAN of Linux network namespaces, for experiments and tests on a real kernel
network that never touches the machine's own interfaces.

Build one from a declarative Topology (or a built-in by name) and use it from its vantage host,
``scanner``::

    from netstudy.lab import Lab

    with Lab("lan", hosts=20) as lab:                  # 20 hosts on 10.0.0.0/24, some addresses absent
        target = lab.addresses["h1"].ipv4              # "10.0.0.10"; also .ipv6, .link_local, .mac
        lab.run("scanner", ["ping", "-c1", target])    # CompletedProcess (text), like subprocess.run
        lab.call("scanner", my_sweep, "10.0.0.0/24")   # a Python function, run inside the namespace
        with lab.inside("scanner"):                    # or: sockets made here live in the lab
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)

What a lab is made of
    Every node is a namespace ``netstudy-<id>-<node>`` (``lab.netns_name(node)``; ``lab.id`` is 6
    random hex digits, so labs never collide). A switch is a bridge ``br0`` inside its namespace
    (multicast snooping off: broadcast and multicast reach every port); a host has ``eth0``
    (``eth1``... when it has more interfaces), one end of a veth pair whose other end, named after
    the host, is a port of the bridge. Routers forward IPv4 and IPv6 and answer from the interface a
    packet came in on; a plain host has a default route through the first router of its subnet
    (if any) and 224.0.0.0/4 on ``eth0``, so multicast and broadcast work without naming an
    interface. Every namespace has ICMP rate limits off (traceroute, UDP scans), rp_filter off
    and IPv6 DAD off (addresses usable at once). Addresses: see :mod:`netstudy.lab.topology`
    (``10.0.1.10`` is also ``fd00:6e73:0:1::10``, MAC ``02:00:0a:00:01:0a``).

Ready-made topologies (:func:`lan`, :func:`routed`, :func:`firewalled`)
    ``lan(hosts=5, silent=0)``: ``scanner`` 10.0.0.2 and ``h1``..``hN`` from 10.0.0.10, every fourth
    address absent (``lab.absent``); the last ``silent`` hosts drop ICMP echo.
    ``routed(subnets=3)``: ``scanner`` 10.0.1.2 - r1 - r2 - ``target`` 10.0.3.10;
    ``lab.topology.hops("scanner", "target")`` is what traceroute must print.
    ``firewalled()``: ``target`` 10.0.0.10 with open, closed, dropped, rejected and prohibited TCP
    and UDP ports (``lab.hosts["target"].port_state("tcp", 25)`` -> "drop") and ``stealth``
    10.0.0.11 which drops ICMP echo.

The API (``host`` is a host, router or switch name)
    ``Lab(topology="lan", *, detached=False, **params)``; ``lab.start()`` / ``lab.close()`` or ``with``
    ``lab.run(host, argv, *, timeout=30, check=False, input=None, unprivileged=False, user=None)``
    ``lab.popen(host, argv, *, unprivileged=False, user=None, **popen_kwargs)`` (killed at teardown)
    ``lab.call(host, fn, *args, timeout=60, unprivileged=False, **kwargs)`` (forked child + setns)
    ``lab.inside(host)`` (context manager: this thread in the namespace)
    ``lab.serve_tcp(host, port, banner=b"")``, ``lab.serve_udp(host, port)`` (echo servers)
    ``lab.open_ping_group_range(host)``, ``lab.sysctl(host, key, value)``
    ``lab.hosts``, ``lab.addresses``, ``lab.absent``, ``lab.vantage``, ``lab.topology``, ``lab.plan``
    ``cleanup()`` removes leftovers of crashed runs (every new lab calls it first).
    ``print(lab.plan)`` shows every ``ip``/``sysctl``/``nft`` command that built the lab; ``print(lab)``
    the hosts, namespaces and addresses; ``netstudy.lab.draw_topology(lab)`` draws it.

Unprivileged programs
    ``unprivileged=True`` runs the program (or ``fn``) in a fresh user namespace: no raw, AF_PACKET
    or ICMP-datagram socket (unless ``lab.open_ping_group_range(host)`` was called), yet it can still
    read a Python interpreter under /root. ``user=65534`` switches the real uid instead.

Teardown and crashes
    Leaving the ``with`` (normally or by an exception), SIGTERM/SIGHUP (the lab tears down, then
    the previous handler runs or the process exits with 128+signal), SIGINT (KeyboardInterrupt) and
    interpreter exit all delete the namespaces; with them go every veth and bridge (no link is ever
    created in the machine's namespace). A forked child of the owner never tears down. A SIGKILLed
    owner leaves them behind: the record /run/netstudy/<id>.json names the owner's pid and start
    time, and the next lab (or ``netstudy lab down``) removes the labs whose owner is gone, never a
    lab whose owner still runs.

Without root
    Building needs CAP_SYS_ADMIN and CAP_NET_ADMIN; otherwise ``PrivilegeError`` says so. Where
    unprivileged user namespaces are allowed, everything works inside
    ``unshare --user --map-root-user --net --mount sh -c 'mount -t tmpfs netstudy /run && CMD'``
    (ping, traceroute, raw and AF_PACKET sockets, nft, bridges), with two differences: the lab
    lives only as long as that shell (``netstudy lab up`` and a later ``lab exec`` from another
    shell cannot meet), and ``open_ping_group_range`` accepts only mapped groups (use 0 0).

Not available here
    Link delay/loss (``Nic(delay_ms=..., loss_pct=...)``) needs netem, which this project's kernel
    lacks: asking for it raises LabError saying so. There are no 802.1Q VLAN interfaces either.

The files
    ``topology.py``  the lab as data: ``Topology``, ``Switch``, ``Host``, ``Nic``, ``Rule``, ``Service``,
                     the built-ins and ``load_topology`` (nothing touches the system)
    ``plan.py``      ``build_plan``: the ``ip``/``sysctl``/``nft`` commands that build a topology
    ``system.py``    namespaces, commands and records on this machine; ``LabError``
    ``runtime.py``   ``Lab``: build, use and tear down; ``cleanup``, ``describe``
    ``services.py``  the echo servers a topology's hosts run
    ``figures.py``   ``draw_topology``: the topology as a matplotlib figure

Errors
    ``LabError`` (an ``InputError``) for everything a user can cause: a topology that does not hold
    together, a malformed TOML file, a host the lab does not have, a command that failed.
"""
from __future__ import annotations

from netstudy.lab.figures import draw_topology
from netstudy.lab.plan import Plan, build_plan
from netstudy.lab.runtime import Lab, cleanup, describe
from netstudy.lab.system import LabError, LabRecord, records
from netstudy.lab.topology import (
                                   TOPOLOGIES,
                                   Addresses,
                                   Host,
                                   Interface,
                                   Nic,
                                   Route,
                                   Rule,
                                   Service,
                                   Switch,
                                   Topology,
                                   firewalled,
                                   lan,
                                   load_topology,
                                   routed,
)

__all__ = ["Lab", "LabError", "LabRecord", "Plan", "Topology", "Switch", "Host", "Nic", "Rule", "Service",
           "Interface", "Addresses", "Route", "TOPOLOGIES", "lan", "routed", "firewalled", "load_topology",
           "build_plan", "cleanup", "describe", "draw_topology", "records"]
