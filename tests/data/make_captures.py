#!/usr/bin/env python3
"""Regenerate the capture fixtures in tests/data/captures/ (run as root: python3 tests/data/make_captures.py).

Real tools make real traffic while tcpdump or dumpcap records it, all inside temporary network
namespaces named netstudyfx-* (a private loopback, veth pairs for Ethernet, a router between two
hosts), removed at the end. Nothing leaves those namespaces. Beside each capture NAME goes NAME.tsv,
tshark's per-frame field reading (tests/tshark.py). A few files are derived from captured ones with
editcap/mergecap or a byte-level rewrite (big-endian pcap, null/loopback link type, two sections).
Timestamps, ports and MAC addresses differ between runs; the kinds of traffic do not.

Needs: tcpdump dumpcap tshark editcap ping dig dnsmasq nmap curl traceroute python3 iproute2.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "captures"
sys.path.insert(0, str(HERE.parent))
import tshark  # noqa: E402  (tests/tshark.py: the field list and the TSV writer)

# Not "netstudy-": netstudy.lab's cleanup removes every netstudy-<id>-* namespace it holds no record of.
PREFIX = "netstudyfx-"
LO, A, B, H1, R, H2, TUN = (PREFIX + n for n in ("lo", "a", "b", "h1", "r", "h2", "tun"))
WORK = Path(tempfile.gettempdir()) / f"netstudyfx-{os.getpid()}"   # scratch: servers' files, captures in progress
BACKGROUND: list[subprocess.Popen] = []


def run(*cmd: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    full = ["ip", "netns", "exec", ns, *cmd] if ns else list(cmd)
    done = subprocess.run(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if check and done.returncode:
        raise RuntimeError(f"{' '.join(full)} exited {done.returncode}: {done.stderr.strip()}")
    return done


def background(*cmd: str, ns: str) -> subprocess.Popen:
    proc = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    BACKGROUND.append(proc)
    return proc


def delete_namespaces() -> None:
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    for name in names:
        if name.startswith(PREFIX):
            run("ip", "netns", "del", name, check=False)


@contextlib.contextmanager
def capture(name: str, ns: str, *args: str, tool: str = "tcpdump"):
    """Record into OUT/name while the body runs: tcpdump/dumpcap args (interface, filter...)."""
    tmp = WORK / name
    if tool == "tcpdump":
        cmd = ["tcpdump", "-Z", "root", "-n", "--immediate-mode", "-U", "-w", str(tmp), *args]
    else:
        cmd = ["dumpcap", "-w", str(tmp), *args]
    proc = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    for line in proc.stderr:
        if "listening on" in line or "Capturing on" in line:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{tool} did not start: {line}")
    threading.Thread(target=proc.stderr.read, daemon=True).start()
    time.sleep(0.3)
    yield
    time.sleep(1.5)  # libpcap hands over packets in blocks: let the last block retire before SIGINT
    proc.send_signal(signal.SIGINT)
    proc.wait(10)
    shutil.move(tmp, OUT / name)
    print(f"{name}: {(OUT / name).stat().st_size} bytes")


def veth(ns1: str, if1: str, ns2: str, if2: str) -> None:
    run("ip", "link", "add", if1, "netns", ns1, "type", "veth", "peer", "name", if2, "netns", ns2)


def addr(ns: str, iface: str, *cidrs: str) -> None:
    for cidr in cidrs:
        extra = ["nodad"] if ":" in cidr else []
        run("ip", "addr", "add", cidr, "dev", iface, *extra, ns=ns)
    run("ip", "link", "set", iface, "up", ns=ns)


def namespace(name: str) -> None:
    run("ip", "netns", "add", name)
    run("ip", "link", "set", "lo", "up", ns=name)
    # No router solicitations or MLD chatter unless a capture asks for it.
    for key in ("all", "default"):
        run("sysctl", "-qw", f"net.ipv6.conf.{key}.router_solicitations=0", ns=name)


# ---------------------------------------------------------------- loopback

def loopback_captures() -> None:
    namespace(LO)
    site = WORK / "www"
    site.mkdir()
    (site / "index.html").write_text("<html><body>netstudy fixture</body></html>\n")
    hosts = WORK / "hosts"
    hosts.write_text("127.0.0.10 www.lab.test\nfd00::10 www.lab.test\n127.0.0.11 mail.lab.test\n")
    background("dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", f"--addn-hosts={hosts}",
               "--listen-address=127.0.0.1", "--bind-interfaces", "--port=53", "--local=/lab.test/",
               "--mx-host=lab.test,mail.lab.test,10", "--txt-record=lab.test,v=spf1 -all",
               "--user=root", "--pid-file=", ns=LO)
    background("python3", "-m", "http.server", "8000", "--bind", "127.0.0.1", "--directory", str(site), ns=LO)
    background("python3", "-c", "import socket,time; s=socket.socket(); s.bind(('127.0.0.1', 9000)); "
               "s.listen(); time.sleep(600)", ns=LO)
    time.sleep(1.5)

    def ping4() -> None:
        run("ping", "-c", "3", "-i", "0.2", "127.0.0.1", ns=LO)

    with capture("lo_ping4.pcap", LO, "-i", "lo", "icmp"):
        ping4()
    with capture("lo_ping4_nano.pcap", LO, "--time-stamp-precision=nano", "-i", "lo", "icmp"):
        ping4()
    with capture("lo_ping6.pcap", LO, "-i", "lo", "icmp6"):
        run("ping", "-6", "-c", "3", "-i", "0.2", "::1", ns=LO)

    def dig_all() -> None:
        for query in (["www.lab.test", "A"], ["www.lab.test", "AAAA"], ["lab.test", "MX"], ["lab.test", "TXT"],
                      ["nosuch.lab.test", "A"], ["+tcp", "www.lab.test", "A"]):
            run("dig", "@127.0.0.1", "+tries=1", "+timeout=2", *query, ns=LO)

    with capture("lo_dns.pcap", LO, "-i", "lo", "port", "53"):
        dig_all()
    with capture("lo_http.pcap", LO, "-i", "lo", "tcp", "port", "8000"):
        run("curl", "-s", "-o", "/dev/null", "http://127.0.0.1:8000/", ns=LO)
    with capture("lo_http_snap64.pcap", LO, "-s", "64", "-i", "lo", "tcp", "port", "8000"):
        run("curl", "-s", "-o", "/dev/null", "http://127.0.0.1:8000/", ns=LO)
    ports = "8000,9000,9001"
    with capture("lo_nmap_sS.pcap", LO, "-i", "lo", "tcp"):
        run("nmap", "-n", "-Pn", "-sS", "-p", ports, "127.0.0.1", ns=LO)
    with capture("lo_nmap_sT.pcap", LO, "-i", "lo", "tcp"):
        run("nmap", "-n", "-Pn", "-sT", "-p", ports, "127.0.0.1", ns=LO)
    with capture("lo_nmap_sU.pcap", LO, "-i", "lo", "udp", "or", "icmp"):
        run("nmap", "-n", "-Pn", "-sU", "--max-retries", "1", "-p", "53,9002", "127.0.0.1", ns=LO)
    with capture("lo_udp_closed.pcap", LO, "-i", "lo", "udp", "or", "icmp"):
        run("dig", "@127.0.0.1", "-p", "9", "+tries=1", "+timeout=1", "www.lab.test", ns=LO, check=False)
    with capture("lo_any_sll.pcap", LO, "-i", "any", "-y", "LINUX_SLL", "icmp", "or", "port", "53"):
        run("ping", "-c", "2", "-i", "0.2", "127.0.0.1", ns=LO)
        run("dig", "@127.0.0.1", "www.lab.test", ns=LO)
    with capture("lo_any_sll2.pcap", LO, "-i", "any", "-y", "LINUX_SLL2", "icmp", "or", "icmp6", "or", "port", "53"):
        run("ping", "-c", "2", "-i", "0.2", "127.0.0.1", ns=LO)
        run("ping", "-6", "-c", "2", "-i", "0.2", "::1", ns=LO)
        run("dig", "@127.0.0.1", "www.lab.test", ns=LO)
    with capture("lo_mixed.pcapng", LO, "-i", "lo", tool="dumpcap"):
        ping4()
        run("ping", "-6", "-c", "2", "-i", "0.2", "::1", ns=LO)
        run("dig", "@127.0.0.1", "www.lab.test", "MX", ns=LO)
        run("curl", "-s", "-o", "/dev/null", "http://127.0.0.1:8000/", ns=LO)
    with capture("lo_any_sll2.pcapng", LO, "-i", "any", "-y", "LINUX_SLL2", "-f", "icmp or port 53", tool="dumpcap"):
        run("ping", "-c", "2", "-i", "0.2", "127.0.0.1", ns=LO)
        run("dig", "@127.0.0.1", "lab.test", "TXT", ns=LO)


# ---------------------------------------------------------------- two hosts on a veth pair (Ethernet)

def vlan_frames(src_mac: bytes) -> list[bytes]:
    """802.1Q-tagged frames built by hand (IEEE 802.1Q section 9): UDP in VLAN 42, ARP in VLAN 7, and QinQ."""
    def csum(data: bytes) -> int:
        if len(data) % 2:
            data += b"\0"
        total = sum(struct.unpack(f"!{len(data) // 2}H", data))
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
        return ~total & 0xFFFF

    src, dst = socket.inet_aton("10.10.42.1"), socket.inet_aton("10.10.42.2")
    payload = b"hello vlan 42"
    udp = struct.pack("!HHHH", 40000, 6000, 8 + len(payload), 0) + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 17, len(udp))
    udp = udp[:6] + struct.pack("!H", csum(pseudo + udp)) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0x1234, 0x4000, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    dst_mac = bytes.fromhex("02000000002a")
    tagged_udp = dst_mac + src_mac + struct.pack("!HHH", 0x8100, (3 << 13) | 42, 0x0800) + ip + udp
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, src_mac, socket.inet_aton("10.10.7.1"),
                      b"\0" * 6, socket.inet_aton("10.10.7.2"))
    tagged_arp = b"\xff" * 6 + src_mac + struct.pack("!HHH", 0x8100, 7, 0x0806) + arp + b"\0" * 18
    qinq = dst_mac + src_mac + struct.pack("!HHHHH", 0x88A8, 100, 0x8100, 42, 0x0800) + ip + udp
    return [tagged_udp, tagged_arp, qinq]


INJECT = """
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for frame in sys.argv[2:]:
    s.send(bytes.fromhex(frame))
"""

JOIN_GROUP = """
import socket, struct, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
             socket.inet_pton(socket.AF_INET6, "ff02::1:2345") + struct.pack("@I", socket.if_nametoindex("fxa0")))
time.sleep(1.5)
"""


def ethernet_captures() -> None:
    namespace(A)
    namespace(B)
    veth(A, "fxa0", B, "fxb0")
    addr(A, "fxa0", "10.10.0.1/24", "fd10::1/64")
    addr(B, "fxb0", "10.10.0.2/24", "fd10::2/64")
    time.sleep(1)
    run("ip", "neigh", "flush", "all", ns=A)
    with capture("veth_arp_ping.pcap", A, "-i", "fxa0", "arp", "or", "icmp"):
        run("ping", "-c", "3", "-i", "0.2", "10.10.0.2", ns=A)
    run("ip", "-6", "neigh", "flush", "all", ns=A)
    run("ip", "-6", "neigh", "flush", "all", ns=B)
    with capture("veth_ndp_ping6.pcap", A, "-i", "fxa0", "icmp6"):
        run("ping", "-6", "-c", "3", "-i", "0.2", "fd10::2", ns=A)
    with capture("veth_udp_closed.pcap", A, "-i", "fxa0", "udp", "or", "icmp", "or", "icmp6"):
        run("dig", "@10.10.0.2", "-p", "9", "+tries=1", "+timeout=1", "www.lab.test", ns=A, check=False)
        run("dig", "@fd10::2", "-p", "9", "+tries=1", "+timeout=1", "www.lab.test", ns=A, check=False)
    with capture("veth_frag4.pcap", A, "-i", "fxa0", "ip"):
        run("ping", "-c", "2", "-i", "0.2", "-s", "3000", "10.10.0.2", ns=A)
    with capture("veth_frag6.pcap", A, "-i", "fxa0", "ip6"):
        run("ping", "-6", "-c", "2", "-i", "0.2", "-s", "3000", "fd10::2", ns=A)
    with capture("veth_mld.pcap", B, "-i", "fxb0", "ip6"):
        run("python3", "-c", JOIN_GROUP, ns=A)
    mac_text = subprocess.run(["ip", "netns", "exec", A, "cat", "/sys/class/net/fxa0/address"],
                              capture_output=True, text=True, check=True).stdout
    mac = bytes.fromhex(mac_text.strip().replace(":", ""))
    with capture("veth_vlan.pcap", B, "-i", "fxb0", "vlan", "or", "ether", "proto", "0x88a8"):
        run("python3", "-c", INJECT, "fxa0", *(f.hex() for f in vlan_frames(mac)), ns=A)


# ---------------------------------------------------------------- a router between two hosts

def routed_captures() -> None:
    for ns in (H1, R, H2):
        namespace(ns)
    veth(H1, "fxh1", R, "fxr1")
    veth(R, "fxr2", H2, "fxh2")
    addr(H1, "fxh1", "10.20.1.2/24", "fd20:1::2/64")
    addr(R, "fxr1", "10.20.1.1/24", "fd20:1::1/64")
    addr(R, "fxr2", "10.20.2.1/24", "fd20:2::1/64")
    addr(H2, "fxh2", "10.20.2.2/24", "fd20:2::2/64")
    run("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=R)
    run("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1", ns=R)
    for ns, gw4, gw6 in ((H1, "10.20.1.1", "fd20:1::1"), (H2, "10.20.2.1", "fd20:2::1")):
        run("ip", "route", "add", "default", "via", gw4, ns=ns)
        run("ip", "-6", "route", "add", "default", "via", gw6, ns=ns)
    time.sleep(1)
    with capture("veth_traceroute.pcap", H1, "-i", "fxh1", "udp", "or", "icmp"):
        run("traceroute", "-n", "-q", "1", "-w", "1", "-m", "3", "-N", "1", "10.20.2.2", ns=H1, check=False)
    with capture("veth_traceroute6.pcap", H1, "-i", "fxh1", "udp", "or", "icmp6"):
        run("traceroute", "-6", "-n", "-q", "1", "-w", "1", "-m", "3", "-N", "1", "fd20:2::2", ns=H1, check=False)
    with capture("veth_ping_rr.pcap", H1, "-i", "fxh1", "icmp"):
        run("ping", "-R", "-c", "2", "-i", "0.2", "10.20.2.2", ns=H1)
    with capture("veth_multi_iface.pcapng", R, "-i", "fxr1", "-i", "fxr2", "-f", "icmp or icmp6", tool="dumpcap"):
        run("ping", "-c", "2", "-i", "0.2", "10.20.2.2", ns=H1)
        run("ping", "-6", "-c", "2", "-i", "0.2", "fd20:2::2", ns=H1)


# ---------------------------------------------------------------- raw IP from a tun device

# Holds tun0 open and writes every packet back with source and destination swapped (the checksums
# do not change: both addresses are in the sum), so the kernel answers its own pings and dig gets
# an ICMP port unreachable: real replies on a link type with no link-layer header.
REFLECT = """
import fcntl, os, struct, select, time
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", b"tun0", 0x0001 | 0x1000))  # TUNSETIFF, IFF_TUN|IFF_NO_PI
end = time.monotonic() + 120
while time.monotonic() < end:
    if not select.select([fd], [], [], 1)[0]:
        continue
    p = os.read(fd, 65536)
    if p[0] >> 4 == 4:
        os.write(fd, p[:12] + p[16:20] + p[12:16] + p[20:])
    elif p[0] >> 4 == 6 and p[24] != 0xff:
        os.write(fd, p[:8] + p[24:40] + p[8:24] + p[40:])
"""


def raw_ip_captures() -> None:
    namespace(TUN)
    run("ip", "tuntap", "add", "dev", "tun0", "mode", "tun", ns=TUN)
    background("python3", "-c", REFLECT, ns=TUN)
    time.sleep(0.5)
    addr(TUN, "tun0", "10.30.0.1/24", "fd30::1/64")
    time.sleep(1)
    with capture("tun_raw.pcap", TUN, "-i", "tun0", "icmp", "or", "udp", "or", "(icmp6 and ip6[40] < 130)"):
        run("ping", "-c", "2", "-i", "0.2", "10.30.0.2", ns=TUN)
        run("ping", "-6", "-c", "2", "-i", "0.2", "fd30::2", ns=TUN)
        run("dig", "@10.30.0.2", "+tries=1", "+timeout=1", "www.lab.test", ns=TUN, check=False)
    with capture("tun_raw4.pcap", TUN, "-i", "tun0", "icmp"):
        run("ping", "-c", "2", "-i", "0.2", "10.30.0.2", ns=TUN)
    with capture("tun_raw6.pcap", TUN, "-i", "tun0", "icmp6", "and", "ip6[40]", "<", "130"):
        run("ping", "-6", "-c", "2", "-i", "0.2", "fd30::2", ns=TUN)


# ---------------------------------------------------------------- files derived from captured ones

def pcap_records(path: Path) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """A little-endian microsecond/nanosecond pcap as (file header, [(record header, data)]), by hand."""
    blob = path.read_bytes()
    header, pos, records = blob[:24], 24, []
    while pos < len(blob):
        caplen = struct.unpack_from("<I", blob, pos + 8)[0]
        records.append((blob[pos:pos + 16], blob[pos + 16:pos + 16 + caplen]))
        pos += 16 + caplen
    return header, records


def derived_files() -> None:
    # Big-endian classic pcap: every header field byte-swapped, packet bytes untouched.
    for src, dst in (("lo_ping4.pcap", "lo_ping4_be.pcap"), ("lo_ping4_nano.pcap", "lo_ping4_nano_be.pcap")):
        header, records = pcap_records(OUT / src)
        out = [struct.pack(">IHHiIII", *struct.unpack("<IHHiIII", header))]
        for rec_header, data in records:
            out += [struct.pack(">IIII", *struct.unpack("<IIII", rec_header)), data]
        (OUT / dst).write_bytes(b"".join(out))
    # Raw IPv4 (228) and raw IPv6 (229) link types: the same bytes as the tun capture, relabelled.
    run("editcap", "-T", "rawip4", str(OUT / "tun_raw4.pcap"), str(OUT / "tun_ipv4.pcap"))
    run("editcap", "-T", "rawip6", str(OUT / "tun_raw6.pcap"), str(OUT / "tun_ipv6.pcap"))
    (OUT / "tun_raw4.pcap").unlink()
    (OUT / "tun_raw6.pcap").unlink()
    # BSD null/loopback (0): a 4-byte address family in host byte order (2 = IPv4, 30 = IPv6) before IP.
    header, records = pcap_records(OUT / "tun_raw.pcap")
    out = [header[:20] + struct.pack("<I", 0)]
    for rec_header, data in records:
        sec, sub, caplen, length = struct.unpack("<IIII", rec_header)
        family = 2 if data[0] >> 4 == 4 else 30
        out += [struct.pack("<IIII", sec, sub, caplen + 4, length + 4), struct.pack("<I", family), data]
    (OUT / "null_loopback.pcap").write_bytes(b"".join(out))
    # Two pcapng sections with different link types: two files concatenated.
    (OUT / "two_sections.pcapng").write_bytes((OUT / "veth_multi_iface.pcapng").read_bytes()
                                              + (OUT / "lo_any_sll2.pcapng").read_bytes())


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("make_captures.py needs root (namespaces, tcpdump)")
    OUT.mkdir(exist_ok=True)
    WORK.mkdir()
    delete_namespaces()
    try:
        loopback_captures()
        ethernet_captures()
        routed_captures()
        raw_ip_captures()
    finally:
        for proc in BACKGROUND:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
        delete_namespaces()
        shutil.rmtree(WORK, ignore_errors=True)
    derived_files()
    for path in sorted(OUT.glob("*.pcap*")):
        if path.suffix in (".pcap", ".pcapng"):
            tshark.main([str(path)])
    print(f"{len(list(OUT.glob('*.tsv')))} captures with tshark readings in {OUT}")


if __name__ == "__main__":
    main()
