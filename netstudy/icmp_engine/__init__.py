"""The ICMP machinery that ping and traceroute share.

- :mod:`netstudy.icmp_engine.echo` is sans-I/O: the echo request as bytes (built once with
  ``netstudy.wire``, then patched per probe with the RFC 1624 incremental checksum), and what a
  received message means (an echo reply, or an ICMP error quoting one of our probes).
- :mod:`netstudy.icmp_engine.sockets` owns the sockets: a raw socket when this process may open one,
  else the kernel's unprivileged ICMP datagram socket (icmp(7)), else a :class:`PrivilegeError` that
  names both ways out; and, for traceroute's UDP probes, a UDP socket whose ICMP errors come back
  through the kernel's error queue (``IP_RECVERR``, ip(7)).
"""
from netstudy.icmp_engine.echo import EchoReply, EchoTemplate, ProbeError, update_checksum
from netstudy.icmp_engine.sockets import IcmpSocket, UdpProbeSocket, resolve

__all__ = ["EchoReply", "EchoTemplate", "ProbeError", "update_checksum", "IcmpSocket", "UdpProbeSocket",
           "resolve"]
