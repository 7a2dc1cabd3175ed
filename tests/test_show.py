"""netstudy.show: bit diagrams, hexdumps, the layers diagram, the SVG/HTML rich display, checksum steps."""
from __future__ import annotations

import hashlib
import io
import itertools
import math
import os
import random
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

import matplotlib

matplotlib.use("Agg")

import pytest
from conftest import tool
from matplotlib.colors import to_rgba
from matplotlib.patches import Rectangle

from netstudy.show import (
    byte_map,
    checksum_figure,
    checksum_steps,
    describe,
    field_color,
    header_diagram,
    header_svg,
    hexdump,
    hexdump_text,
    layers_diagram,
    to_html,
)
from netstudy.show.layout import as_packet, display_name, layout_header, value_of
from netstudy.wire import (
    ARP,
    SLL,
    SLL2,
    TCP,
    UDP,
    VLAN,
    Ethernet,
    ICMPEcho,
    ICMPTimeExceeded,
    ICMPUnreachable,
    IPv4,
    Null,
    decode,
    internet_checksum,
    tcp_option,
)
from netstudy.wire.checksum import fold
from netstudy.wire.dns import DNS
from netstudy.wire.icmpv6 import ICMPv6Echo, ICMPv6NeighborSolicitation, ndp_option
from netstudy.wire.ipv4 import IPV4_OPTIONS
from netstudy.wire.ipv6 import IPV6_OPTIONS, IPv6, IPv6Fragment, IPv6HopByHop


def eth(dst: str = "02:00:00:00:00:02") -> Ethernet:
    return Ethernet(src="02:00:00:00:00:01", dst=dst)


def syn_options() -> list:
    return [tcp_option("mss", 1460), tcp_option("sackOK"), tcp_option("TS", 1, 0), tcp_option("nop"),
            tcp_option("wscale", 7)]


def frames() -> dict[str, tuple[bytes, int]]:
    """One frame per kind of header netstudy.wire decodes, built by netstudy.wire (bytes, linktype)."""
    quoted = bytes(IPv4(src="10.0.0.2", dst="10.0.0.1", ttl=1) / UDP(sport=40000, dport=33434))
    return {
        "tcp_syn": (bytes(eth() / IPv4(src="127.0.0.1", dst="127.0.0.2", identification=0x1C46, df=True)
                          / TCP(sport=40000, dport=80, flags="S", seq=123456789, options=syn_options())), 1),
        "udp": (bytes(eth() / IPv4(src="192.168.1.10", dst="192.168.1.1") / UDP(sport=40000, dport=9999)
                      / b"hello, world"), 1),
        "arp": (bytes(eth("ff:ff:ff:ff:ff:ff") / ARP(sender_mac="02:00:00:00:00:01", sender_ip="10.0.0.1",
                                                     target_ip="10.0.0.2")) + bytes(18), 1),
        "ipv4_options": (bytes(eth() / IPv4(src="10.0.0.1", dst="10.0.0.2",
                                            options=[IPV4_OPTIONS.make("RA", 0), IPV4_OPTIONS.make("NOP")])
                               / UDP(sport=1, dport=2) / b"x"), 1),
        "vlan_icmp_echo": (bytes(eth() / VLAN(vid=42, pcp=5) / IPv4(src="10.0.0.1", dst="10.0.0.2")
                                 / ICMPEcho(identifier=7, sequence=1) / b"ping"), 1),
        "icmp_unreachable": (bytes(eth() / IPv4(src="10.0.0.1", dst="10.0.0.2") / ICMPUnreachable(code=3)
                                   / quoted), 1),
        "icmp_time_exceeded": (bytes(IPv4(src="10.0.0.254", dst="10.0.0.1") / ICMPTimeExceeded() / quoted), 101),
        "ipv6_ext": (bytes(eth() / IPv6(src="2001:db8::1", dst="2001:db8::2")
                           / IPv6HopByHop(options=[IPV6_OPTIONS.make("router-alert", 0)])
                           / IPv6Fragment(identification=5) / UDP(sport=5, dport=6) / b"abc"), 1),
        "icmpv6_ns": (bytes(eth() / IPv6(src="fe80::1", dst="ff02::1:ff00:2", hop_limit=255)
                            / ICMPv6NeighborSolicitation(target="fe80::2",
                                                         options=[ndp_option(1, bytes.fromhex("020000000001"))])), 1),
        "icmpv6_echo": (bytes(eth() / IPv6(src="::1", dst="::1") / ICMPv6Echo(identifier=1, sequence=2) / b"hi"), 1),
        "sll2_tcp": (bytes(SLL2(protocol=0x0800, interface_index=1, arphrd_type=772, address_length=6)
                           / IPv4(src="127.0.0.1", dst="127.0.0.1") / TCP(sport=1, dport=2, flags="P.") / b"data"),
                     276),
        "sll_udp": (bytes(SLL(packet_type=4, arphrd_type=772, address_length=6, protocol=0x0800)
                          / IPv4(src="127.0.0.1", dst="127.0.0.1") / UDP(sport=1, dport=2) / b"data"), 113),
        "dns_query": (bytes(eth() / IPv4(src="127.0.0.1", dst="127.0.0.53") / UDP(sport=40000, dport=53)
                            / DNS(id=0x1234, rd=True, qdcount=1) / b"\x07example\x03com\x00\x00\x01\x00\x01"), 1),
        "null_udp": (bytes(Null(family=0x02000000) / IPv4(src="127.0.0.1", dst="127.0.0.1") / UDP(sport=1, dport=2)),
                     0),
    }


FRAMES = frames()


def packet(name: str):
    data, linktype = FRAMES[name]
    return decode(data, linktype)


@pytest.fixture
def close_figures():
    figures = []
    yield figures
    import matplotlib.pyplot as plt
    for fig in figures:
        plt.close(fig)


def texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def field_rects(fig) -> list[Rectangle]:
    return [p for ax in fig.axes for p in ax.patches if isinstance(p, Rectangle) and p.get_gid()]


# ----------------------------------------------------------------------------------------------------
# bit diagrams

@pytest.mark.parametrize("name", sorted(FRAMES))
def test_every_layer_draws_one_box_per_field_with_its_value(name, close_figures):
    p = packet(name)
    assert p.error is None, p.error
    for i, layer in enumerate(p.layers):
        fig = header_diagram(p, layer=i)
        close_figures.append(fig)
        views = layer.fields()
        rects = field_rects(fig)
        keys = {r.get_gid() for r in rects}
        assert len(keys) == len(views), (layer.NAME, sorted(keys))
        width, height = fig.get_size_inches() * 72
        for r in rects:                                     # every box inside the figure
            assert r.get_x() >= 0 and r.get_x() + r.get_width() <= width + 1e-6
            assert r.get_y() >= 0 and r.get_y() + r.get_height() <= height + 1e-6, (layer.NAME, r.get_gid())
        assert f"{layer.NAME}.{views[0].name}" in keys
        all_text = "\n".join(texts(fig))
        for view in views:
            shown = value_of(layer, view)
            if view.bits >= 16 and shown:       # wide boxes always have room for the whole value
                assert shown in all_text, (layer.NAME, view.name, shown)
        assert f"{layer.NAME} header" in all_text
        assert layer.struct_format in all_text


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_rows_are_32_bits(name):
    for layer in packet(name).layers:
        lay = layout_header(layer)
        assert lay.rows == math.ceil(layer.header_length * 8 / 32)
        for box in lay.boxes:                       # every piece lies within one 32-bit row band
            assert box.w <= 32 * 22.0 + 1e-6
            assert round((box.y - lay.grid_top) / 44.0, 6).is_integer()


def test_fields_crossing_rows_are_split_and_labelled_once():
    eth_layer = packet("udp").layers[0]
    lay = layout_header(eth_layer)
    dst = [b for b in lay.boxes if b.view.name == "dst"]
    assert [(b.w / 22, b.h / 44) for b in dst] == [(32, 1), (16, 1)]         # 48 bits: a row and a half
    labelled = [b for b in dst if any(line.role == "value" for line in b.lines)]
    assert len(labelled) == 1 and labelled[0].lines[-1].text == "02:00:00:00:00:02"
    ipv6 = packet("ipv6_ext")[IPv6]
    src = [b for b in layout_header(ipv6).boxes if b.view.name == "src"]
    assert [(b.w / 22, b.h / 44) for b in src] == [(32, 4)]                  # whole rows merge into one box


def test_tcp_syn_options_and_flags(close_figures):
    p = packet("tcp_syn")
    tcp = p[TCP]
    lay = layout_header(tcp, under=p[IPv4])
    assert lay.status == "good"
    assert lay.options == (5, 9, 20)                                          # rows 5..9, 20 bytes
    names = [b.view.name for b in lay.boxes if b.kind == "option" and b.first]
    assert names == ["option mss", "option sackOK", "option TS", "option nop", "option wscale"]
    syn = next(b for b in lay.boxes if b.view.name == "syn")
    fin = next(b for b in lay.boxes if b.view.name == "fin")
    assert syn.flag is True and fin.flag is False
    assert display_name(syn.view) == "SYN" and display_name(next(b.view for b in lay.boxes
                                                                  if b.view.name == "ack_flag")) == "ACK"
    fig = header_diagram(tcp, under=p[IPv4])
    close_figures.append(fig)
    all_text = texts(fig)
    assert "1460" in all_text and "checksum \u2713 verifies" in all_text and "options\n20 bytes" in all_text


def test_checksum_badges():
    p = packet("udp")
    assert layout_header(p[IPv4]).status == "good"
    assert layout_header(p[UDP]).status == "unverified"                    # no IP header given
    assert layout_header(p[UDP], under=p[IPv4]).status == "good"
    assert layout_header(p[Ethernet]).status is None                        # no checksum at all
    bad = bytearray(p.data)
    bad[14 + 10] ^= 0xFF                                                     # IPv4 checksum byte
    bad_packet = decode(bytes(bad))
    assert layout_header(bad_packet[IPv4]).status == "bad"
    assert "checksum \u2717 wrong" in header_svg(bad_packet[IPv4])
    built = IPv4(src="10.0.0.1", dst="10.0.0.2")
    assert layout_header(built).status == "auto"


def test_built_headers_are_not_filled_by_showing_them(close_figures):
    ip, udp = IPv4(src="10.0.0.1", dst="10.0.0.2"), UDP(sport=1, dport=2)
    stack = ip / udp / b"data"
    to_html(ip)
    close_figures += [hexdump(stack), layers_diagram(stack), header_diagram(stack)]
    assert not ip.is_set("checksum") and not ip.is_set("total_length") and not udp.is_set("length")
    assert "auto" in [line.text for b in layout_header(ip).boxes for line in b.lines]
    assert as_packet(stack).data == bytes(IPv4(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / b"data")


def test_malformed_options_still_draw(close_figures):
    ip = IPv4(src="10.0.0.1", dst="10.0.0.2", protocol=6)
    tcp = bytearray(bytes(TCP(sport=1, dport=2, options=[tcp_option("mss", 1460)])))
    tcp[21] = 9                                  # mss option claims 9 bytes in a 4-byte options area
    p = decode(bytes(ip / bytes(tcp)), 101)
    layer = p[TCP]
    lay = layout_header(layer)
    last = lay.boxes[-1]
    assert (last.view.name, last.view.bits, last.first) == ("options", 32, True)   # one raw box
    close_figures += [header_diagram(layer), hexdump(p)]


def test_truncated_packet_marks_the_malformed_bytes(close_figures):
    data, _ = FRAMES["tcp_syn"]
    p = decode(data[:40])
    assert p.error is not None and [h.NAME for h in p.layers] == ["Ethernet", "IPv4"]
    cells = byte_map(p)
    assert {s.field for c in cells[34:] for s in c} == {"malformed"}
    fig = layers_diagram(p)
    close_figures.append(fig)
    assert "malformed TCP" in texts(fig)


# ----------------------------------------------------------------------------------------------------
# colours

def test_neighbouring_fields_differ_in_colour():
    for name in FRAMES:
        for layer in packet(name).layers:
            views = layer.fields()
            colors = [field_color(layer, v.name) for v in views if not v.name.startswith("option")]
            assert all(a != b for a, b in itertools.pairwise(colors)), layer.NAME


def test_colours_and_html_do_not_depend_on_the_interpreter_run():
    """str hashes change between runs (PYTHONHASHSEED): colours and HTML must not follow them."""
    data, _ = FRAMES["tcp_syn"]
    code = ("import hashlib, sys; from netstudy.show import field_color, layer_color, to_html;"
            "from netstudy.wire import IPv4, TCP, decode;"
            "html = to_html(decode(bytes.fromhex(sys.argv[1])));"
            "print(field_color(IPv4, 'ttl'), field_color(TCP, 'option mss'), layer_color(TCP),"
            "hashlib.sha256(html.encode()).hexdigest())")
    outs = {subprocess.run([sys.executable, "-c", code, data.hex()], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(outs) == 1
    here = hashlib.sha256(to_html(decode(data)).encode()).hexdigest()
    assert outs.pop().split() == [field_color(IPv4, "ttl"), field_color(TCP, "option mss"), "#59a14f", here]


# ----------------------------------------------------------------------------------------------------
# hexdumps

@pytest.mark.parametrize("name", ["tcp_syn", "arp", "ipv6_ext"])
def test_hexdump_colours_match_field_byte_ranges(name, close_figures):
    p = packet(name)
    fig = hexdump(p)
    close_figures.append(fig)
    by_gid: dict[str, list] = {}
    for r in field_rects(fig):
        by_gid.setdefault(r.get_gid(), []).append(r)
    for layer in p.layers:
        for view in layer.fields():
            first = layer.offset + view.bit_offset // 8
            last = layer.offset + (view.bit_offset + view.bits - 1) // 8
            want = to_rgba(field_color(layer, view.name))
            for i in range(first, last + 1):
                rects = by_gid.get(f"{layer.NAME}.{view.name}@{i}")
                assert rects, (layer.NAME, view.name, i)
                assert all(r.get_facecolor() == want for r in rects)
                # the slice of the byte is the field's share of its bits
                share = (min(view.bit_offset + view.bits, (i - layer.offset + 1) * 8)
                         - max(view.bit_offset, (i - layer.offset) * 8)) / 8
                assert rects[0].get_width() == pytest.approx((21.0 - 2) * share)
    if name == "arp":                                        # 18 bytes of Ethernet padding after ARP
        assert all(f"trailer.trailer@{i}" in by_gid for i in range(42, 60))


def test_dollar_signs_in_a_payload_are_drawn_as_text_not_mathtext(close_figures):
    """A payload (a chat line, random bytes) with "$" in it: matplotlib would read "$...$" as mathtext
    and fail to draw ("$\\$" unbalanced) or draw something else; the hexdump and diagrams show the text."""
    payload = b"cost $5 or $_{x ^$ \\frac{"
    frame = Ethernet() / IPv4(src="127.0.0.1", dst="127.0.0.1") / UDP(sport=5000, dport=5001) / payload
    p = decode(frame.build(), 1)
    for fig in (hexdump(p), layers_diagram(p), *(header_diagram(p, n) for n in range(len(p.layers)))):
        close_figures.append(fig)
        fig.savefig(io.BytesIO(), format="png")              # drawn as a notebook draws it
    drawn = texts(close_figures[0])
    assert "5 or $_{x ^$ \\fr" in drawn, drawn


def test_dollar_signs_in_chat_names_and_lines_are_drawn_as_text(close_figures):
    """Users write "$": a nickname or a chat line with two of them draws as typed, not as mathtext."""
    from netstudy.chat.figures import sequence_diagram, trace_conversation
    fig = sequence_diagram(trace_conversation([("$ann$", "$ann$"), ("bob", "bob"), ("$ann$", "pay $_{5 ^$ now")]))
    close_figures.append(fig)
    fig.savefig(io.BytesIO(), format="png")
    drawn = texts(fig)
    assert "$ann$" in drawn and any("pay $_{5 ^$ now" in text for text in drawn), drawn


def test_hexdump_text_matches_tcpdump(tmp_path):
    tcpdump = tool("tcpdump")
    data, _ = FRAMES["tcp_syn"]
    pcap = tmp_path / "syn.pcap"
    pcap.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
                     + struct.pack("<IIII", 0, 0, len(data), len(data)) + data)
    out = subprocess.run([tcpdump, "-r", str(pcap), "-nn", "-XX"], capture_output=True, text=True, check=True).stdout
    theirs = [line.strip() for line in out.splitlines() if line.startswith("\t0x")]
    ours = hexdump_text(packet("tcp_syn"), layers=False).splitlines()
    assert ours == theirs
    annotated = hexdump_text(data)
    assert annotated.splitlines()[0].endswith("| Ethernet @0, IPv4 @14")
    assert annotated.splitlines()[2].endswith("| TCP @34")


# ----------------------------------------------------------------------------------------------------
# layers diagram

def test_layers_diagram_nests_with_byte_counts(close_figures):
    fig = layers_diagram(packet("udp"))
    close_figures.append(fig)
    gids = {p.get_gid() for p in fig.axes[0].patches}
    assert {"layer:Ethernet", "layer:IPv4", "layer:UDP", "header:IPv4", "payload"} <= gids
    all_text = texts(fig)
    assert "54-byte frame: Ethernet \u2283 IPv4 \u2283 UDP \u2283 payload" in all_text
    assert {"Ethernet frame \u00b7 54 bytes", "IPv4 packet \u00b7 40 bytes", "UDP datagram \u00b7 20 bytes",
            "14 bytes", "20 bytes", "8 bytes", "12 bytes"} <= set(all_text)
    fig = layers_diagram(packet("arp"))
    close_figures.append(fig)
    assert "padding 18 B" in texts(fig)


# ----------------------------------------------------------------------------------------------------
# rich display: SVG and HTML

def test_svg_is_well_formed_with_a_tooltip_per_field():
    ip = packet("tcp_syn")[IPv4]
    svg = header_svg(ip)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    groups = root.findall(f"{ns}g[@class='ns-f']")
    assert len(groups) == len(ip.fields())
    ttl = next(g for g in groups if g.get("id") == "ns-ipv4-ttl")
    tip = ttl.find(f"{ns}title").text
    assert "IPv4.ttl = 64 (0x40)" in tip and "bits 64\u201371" in tip and "byte offset 8" in tip
    assert "struct code 'B'" in tip and "time to live" in tip
    assert "!BBHHHBBH4s4s" in svg and "checksum \u2713 verifies" in svg


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_html_is_deterministic_and_its_svgs_parse(name):
    data, linktype = FRAMES[name]
    html = to_html(decode(data, linktype))
    assert html == to_html(decode(bytes(data), linktype))
    svgs = re.findall(r"<svg .*?</svg>", html, re.S)
    assert len(svgs) == len(decode(data, linktype).layers)
    ids = []
    for svg in svgs:
        root = ET.fromstring(svg)
        ids += [e.get("id") for e in root.iter() if e.get("id")]
        height = float(root.get("height"))
        for rect in root.iter("{http://www.w3.org/2000/svg}rect"):     # every box inside its drawing
            assert float(rect.get("y")) >= 0 and float(rect.get("y")) + float(rect.get("height")) <= height
    assert len(ids) == len(set(ids))                      # unique within the output


def test_packet_html_has_summary_diagrams_and_hexdump():
    p = packet("tcp_syn")
    html = to_html(p)
    assert p.summary() in html.replace("&gt;", ">")
    assert html.count("<details open>") == len(p.layers) + 1
    assert 'title="IPv4.ttl @22"' in html                 # byte 22 is the TTL: 14 + 8
    assert "linear-gradient(90deg," in html               # the version/IHL byte is split by field


def test_jupyter_shows_headers_and_packets_as_html():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    import netstudy
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    try:
        netstudy._register_jupyter_display()
        p = packet("udp")
        for obj in (p, p[UDP], IPv4(src="10.0.0.1")):
            data, _ = shell.display_formatter.format(obj)
            assert data["text/html"] == to_html(obj)
            assert data["text/plain"] == repr(obj)
    finally:
        InteractiveShell.clear_instance()


# ----------------------------------------------------------------------------------------------------
# tables

def test_describe_lists_fields_with_offsets_and_hex():
    frame = describe(packet("tcp_syn")[IPv4])
    ttl = frame.set_index("field").loc["ttl"]
    assert (ttl.bit_offset, ttl.bits, ttl.byte_offset, ttl.value, ttl.hex, ttl.struct) == (64, 8, 8, "64", "0x40", "B")
    assert list(frame.field)[:3] == ["version", "ihl", "dscp"]


def test_checksum_steps_agree_with_internet_checksum(close_figures):
    rng = random.Random(7)
    for length in (0, 1, 2, 3, 20, 21, 64, 1501):
        data = bytes(rng.randrange(256) for _ in range(length))
        steps = checksum_steps(data)
        assert steps.attrs["checksum"] == internet_checksum(data), length
        assert len(steps) == (length + 1) // 2
        if length:                                  # folding the 32-bit total gives the running sum
            assert fold(int(steps.total.iloc[-1], 16)) == int(steps.folded.iloc[-1], 16)
    header = bytes(packet("udp")[IPv4])
    steps = checksum_steps(header)
    assert steps.attrs["sum"] == 0xFFFF and steps.attrs["checksum"] == 0      # a filled-in header verifies
    zeroed = header[:10] + b"\0\0" + header[12:]
    assert checksum_steps(zeroed).attrs["checksum"] == packet("udp")[IPv4].checksum
    carried = checksum_steps(b"\xff\xff\x00\x02")
    assert list(carried.carry) == [0, 1] and list(carried.folded) == ["0xffff", "0x0002"]
    assert list(carried.total) == ["0x0ffff", "0x10001"]                      # folded once: 0x0001 + 1
    fig = checksum_figure(header)
    close_figures.append(fig)
    assert "0x0000" in fig.axes[0].get_title()


def test_mutated_and_cut_frames_still_render():
    """Whatever decode makes of damaged bytes (a malformed layer, odd lengths), the display draws it."""
    rng = random.Random(2)
    for _name, (data, linktype) in sorted(FRAMES.items()):
        for _ in range(25):
            damaged = bytearray(data[:rng.randrange(1, len(data) + 1)])
            for _ in range(rng.randrange(1, 4)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            p = decode(bytes(damaged), linktype)
            html = to_html(p)
            for svg in re.findall(r"<svg .*?</svg>", html, re.S):
                ET.fromstring(svg)
            assert len(byte_map(p)) == len(damaged)
            assert len(hexdump_text(p).splitlines()) == (len(damaged) + 15) // 16
