"""Tables for the notebooks: a header's fields as a DataFrame, and the Internet checksum step by step."""
from __future__ import annotations

from typing import Any

from netstudy.show.layout import full_hex, value_of
from netstudy.wire.fields import Header

__all__ = ["describe", "checksum_steps", "checksum_figure"]


def describe(header: Header) -> Any:
    """The fields of ``header`` as a pandas DataFrame: name, bit offset and width, byte offset, value as
    people read it, the bits in hex, the struct code of the word it lives in, and its meaning."""
    import pandas as pd
    rows = [{"field": v.name, "bit_offset": v.bit_offset, "bits": v.bits, "byte_offset": v.byte_offset,
             "value": value_of(header, v) or v.text, "hex": full_hex(v), "struct": v.struct_code,
             "meaning": v.meaning} for v in header.fields()]
    return pd.DataFrame(rows, columns=["field", "bit_offset", "bits", "byte_offset", "value", "hex", "struct",
                                       "meaning"])


def checksum_steps(data: bytes | bytearray | memoryview | Header) -> Any:
    """The Internet checksum of ``data`` (RFC 1071 §1) worked by hand, one row per 16-bit word: the word,
    the running 32-bit total (carries kept, folded once at the end: RFC 1071 §4.1's loop), and the
    one's-complement running sum (a carry out of 16 bits wrapped around at once: ``carry`` says when).
    Both roads give the same 16 bits. An odd last byte is padded with a zero byte. The folded sum is in
    ``frame.attrs['sum']`` and the checksum, its complement, in ``frame.attrs['checksum']``.

    A header (e.g. a parsed IPv4 header) stands for its own bytes. Run over data whose checksum
    field is filled in, the sum is 0xffff and the checksum 0: that is how a receiver verifies.
    """
    import pandas as pd
    raw = bytes(data)
    padded = raw + b"\x00" if len(raw) % 2 else raw
    rows, total, folded = [], 0, 0
    for off in range(0, len(padded), 2):
        word = (padded[off] << 8) | padded[off + 1]
        total += word
        added = folded + word
        carry = added >> 16
        folded = (added & 0xFFFF) + carry
        rows.append({"offset": off, "bytes": padded[off:off + 2].hex(" "), "word": f"0x{word:04x}",
                     "total": f"0x{total:05x}", "carry": carry, "folded": f"0x{folded:04x}",
                     "note": "odd length: zero byte added" if off + 2 > len(raw) else ""})
    frame = pd.DataFrame(rows, columns=["offset", "bytes", "word", "total", "carry", "folded", "note"])
    frame.attrs["sum"] = folded
    frame.attrs["checksum"] = ~folded & 0xFFFF
    return frame


def checksum_figure(data: bytes | bytearray | memoryview | Header) -> Any:
    """The running one's-complement sum word by word: bars for the words, a line for the folded sum, a
    mark wherever a carry wrapped around, and the final complement in the title."""
    from netstudy.show.diagram import plot_figure
    steps = checksum_steps(data)
    fig, ax = plot_figure(8.0, 3.2)
    x = list(range(len(steps)))
    words = [int(w, 16) for w in steps["word"]]
    folded = [int(s, 16) for s in steps["folded"]]
    ax.bar(x, words, color="#aec7e8", edgecolor="#4e79a7", label="16-bit word")
    ax.plot(x, folded, color="#e15759", marker="o", markersize=3, label="running sum (carries folded)")
    carries = [i for i, c in enumerate(steps["carry"]) if c]
    ax.scatter(carries, [folded[i] for i in carries], s=60, facecolors="none", edgecolors="#b71c1c", zorder=3,
               label="carry wrapped around")
    ax.set_xlabel("word number (byte offset / 2)")
    ax.set_ylabel("value (0 to 0xffff)")
    ax.set_ylim(0, 0x15000)
    ax.set_yticks([0, 0x4000, 0x8000, 0xC000, 0xFFFF], ["0x0000", "0x4000", "0x8000", "0xc000", "0xffff"])
    verdict = " (all ones: the data verifies)" if steps.attrs["sum"] == 0xFFFF else ""
    ax.set_title(f"Internet checksum: sum 0x{steps.attrs['sum']:04x}, "
                 f"checksum = ~sum = 0x{steps.attrs['checksum']:04x}{verdict}")
    ax.legend(loc="upper left", ncols=3, fontsize=8, framealpha=0.9)
    fig.tight_layout()
    return fig
