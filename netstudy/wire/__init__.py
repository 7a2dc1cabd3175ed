"""Sans-I/O codecs: bytes in, headers out, and back. No sockets, no clocks, no printing here.

Every header is a class with one field table (``FIELDS``) that drives parsing, building, the text
description and the bit diagram. ``decode(frame, linktype)`` walks a whole frame.
"""
from netstudy.wire.arp import ARP
from netstudy.wire.checksum import internet_checksum, internet_checksum_loop, verify
from netstudy.wire.decode import LINKTYPES, Packet, decode, decode_ip
from netstudy.wire.dns import DNS
from netstudy.wire.ethernet import VLAN, Ethernet
from netstudy.wire.fields import Field, FieldView, Header, Stack
from netstudy.wire.icmp import ICMP, ICMPEcho, ICMPTimeExceeded, ICMPUnreachable
from netstudy.wire.icmpv6 import (
                                  ICMPv6,
                                  ICMPv6Echo,
                                  ICMPv6NeighborAdvertisement,
                                  ICMPv6NeighborSolicitation,
                                  ICMPv6PacketTooBig,
                                  ICMPv6TimeExceeded,
                                  ICMPv6Unreachable,
                                  ndp_option,
)
from netstudy.wire.ipv4 import IPv4
from netstudy.wire.ipv6 import IPv6, IPv6DestOptions, IPv6Fragment, IPv6HopByHop, IPv6Routing
from netstudy.wire.link import SLL, SLL2, Null
from netstudy.wire.options import Option
from netstudy.wire.tcp import TCP, tcp_option
from netstudy.wire.udp import UDP

__all__ = ["ARP", "DNS", "Ethernet", "VLAN", "Field", "FieldView", "Header", "Stack", "ICMP", "ICMPEcho",
           "ICMPTimeExceeded", "ICMPUnreachable", "IPv4", "IPv6", "IPv6DestOptions",
           "IPv6Fragment", "IPv6HopByHop", "IPv6Routing", "ICMPv6", "ICMPv6Echo", "ICMPv6NeighborAdvertisement",
           "ICMPv6NeighborSolicitation", "ICMPv6PacketTooBig", "ICMPv6TimeExceeded", "ICMPv6Unreachable",
           "ndp_option", "SLL", "SLL2", "Null", "Option", "TCP", "UDP",
           "tcp_option", "Packet", "decode", "decode_ip", "LINKTYPES", "internet_checksum",
           "internet_checksum_loop", "verify"]
