"""Sockets shared by engines: what opens, configures and reads them, and nothing about what the bytes mean
(that is ``netstudy.wire``'s job).

- :mod:`netstudy.net.icmp`: ICMP echo sockets, raw when this process may open one, else the kernel's
  unprivileged ICMP datagram socket (icmp(7)), else a :class:`~netstudy.errors.PrivilegeError` naming
  both ways out (:func:`privilege_message`); UDP probe sockets whose ICMP errors come back through the
  kernel's error queue (``IP_RECVERR``, ip(7)); :func:`resolve` a host name to ``(version, address)``.
- :mod:`netstudy.net.raw`: :class:`RawIPv4Socket`, whole IPv4 datagrams out (``IP_HDRINCL``) and one
  protocol's datagrams in (a SYN scan, a UDP scan, a SYN ping); :func:`source_address` for a checksum's
  pseudo-header; :func:`reserve_port` for the probes' source port; :func:`raw_privilege_message`.
- :mod:`netstudy.net.link`: this host's interfaces with their IPv4 networks and MACs (:func:`interfaces`,
  :func:`interface_for`, :func:`route_interface`), and :class:`PacketSocket`, whole Ethernet frames on one
  interface (packet(7)).
- :mod:`netstudy.net.capture`: :class:`~netstudy.net.capture.TcpPortCapture`, one TCP connection's frames
  captured on a thread behind a BPF port filter (the chat's session, a P2P link).
- :mod:`netstudy.net.packet`: capture sockets for a sniffer: :func:`open_capture` gives a TPACKET_V3 receive
  ring (:class:`RingCapture`) or one ``recvmsg`` per frame (:class:`RecvCapture`), with the kernel's counters.
"""
from netstudy.net.icmp import IcmpSocket, UdpProbeSocket, bind_to_device, check_ttl, privilege_message, resolve, set_ttl
from netstudy.net.link import Interface, PacketSocket, interface_for, interfaces, route_interface
from netstudy.net.raw import RawIPv4Socket, raw_privilege_message, reserve_port, source_address

__all__ = ["IcmpSocket", "UdpProbeSocket", "bind_to_device", "check_ttl", "privilege_message", "resolve", "set_ttl",
           "Interface", "PacketSocket", "interface_for", "interfaces", "route_interface",
           "RawIPv4Socket", "raw_privilege_message",
           "reserve_port", "source_address"]
