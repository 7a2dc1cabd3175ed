"""Filter expressions the BPF tests share: every construct of netstudy.wire.bpf's language, IPv4 and IPv6,
combinations, vlan, negations and precedence (tcpdump's `and`/`or` have equal precedence)."""
from __future__ import annotations

MANY_PORTS = "tcp port " + " or ".join(str(p) for p in range(1000, 1040)) + " or 80"   # far jumps: ja

EXPRESSIONS: tuple[str, ...] = (
    # protocols
    "tcp", "udp", "icmp", "icmp6", "arp", "rarp", "ip", "ip6", "sctp", "igmp",
    # ports
    "port 80", "tcp port 80", "udp port 53", "port 53 or 80", "src port 53", "dst port 53",
    "src or dst port 53", "tcp port 22 or 80 or 443", "port domain", "src port 53 and udp",
    "portrange 1-1024", "dst portrange 5000-5500", "tcp portrange 8000-9000 or udp portrange 5000-5100",
    "ip6 and tcp port 8080", MANY_PORTS,
    # hosts and nets, v4 and v6
    "host 127.0.0.1", "src host 127.0.0.1", "host ::1", "dst host ::1", "host 10.0.0.105",
    "src host 10.0.0.105 or dst host 10.0.0.24", "host 10.0.0.105 or 10.0.0.24 or 10.0.0.2",
    "host 10.0.0.105 and not 10.0.0.24", "ip host 10.0.0.1", "arp host 10.0.0.1",
    "net 127.0.0.0/8", "net 10", "net 10.0.0.0/25", "net 10.0.0.128 mask 255.255.255.128",
    "dst net 10.0.0.0/24 and not src net 10.0.0.0/26", "src and dst net 10.0.0.0/24",
    "host fd00:6e73::6de:1668:bc12:38", "net fd00:6e73::/32", "ip6 net fe80::/10", "src net ::/0",
    # link layer
    "ether src 02:4d:0f:07:00:a5", "ether dst 02:54:14:2e:00:69 or ether host 02:ff:42:8e:00:aa",
    "ether host 2:4d:f:7:0:a5", "ether broadcast", "ether multicast", "arp and ether broadcast",
    "ip multicast", "ip6 multicast", "ip6 multicast or ether multicast", "ip broadcast",
    "ether proto 0x86dd", "ether proto \\arp",
    # vlan: the offsets move on after it
    "vlan", "vlan and ip", "vlan 100", "vlan 14", "vlan and udp port 5004", "vlan 14 and host 10.0.0.29",
    "vlan or arp", "not vlan and udp", "vlan and vlan", "vlan 3 and vlan and tcp",
    # protocol numbers
    "ip proto 17", "ip6 proto 58", "proto \\udp", "ip proto \\icmp or ip6 proto 58", "proto 17 and not port 53",
    # lengths
    "less 100", "greater 200", "less 80 and ip", "len >= 100 and len <= 200", "len > 100 and len < 500",
    # negation and precedence
    "not tcp", "tcp and not port 22", "tcp or udp and port 53", "not tcp or udp", "! tcp && ! udp || icmp",
    "(tcp or udp) and not (port 53 or port 80)", "not (ip or ip6)", "not ip and not ip6",
    "tcp and (src port 80 or dst port 80) and greater 100",
    # packet access and arithmetic
    "tcp[tcpflags] & tcp-syn != 0", "tcp[13] & 18 = 18", "tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn",
    "tcp[tcpflags] == tcp-syn | tcp-ack", "ip[8] < 64", "ip[2:2] > 100 and ip[6] & 0x40 != 0",
    "icmp[icmptype] = icmp-echo or icmp[icmptype] = icmp-echoreply", "icmp6[0] = 128",
    "icmp6 and ip6[40] = 128", "udp[8:2] > 100", "udp[4:2] - 8 > 50",
    "tcp[((tcp[12] & 0xf0) >> 2):4] = 0x47455420", "ip[0] & 0xf != 5", "ether[0:4] + 1 > len * 2",
    "udp dst port 53 and ip[8] > 1", "ip[9] % 3 = 0", "ip[6:2] & 0x1fff != 0", "ip6[6] = 44",
    "tcp[12] >> 4 > 5 and -(ip[8]) < 0xffffff00", "ether[12:2] ^ 0x86dd = 0",
)
