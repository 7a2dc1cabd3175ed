"""Follow TCP stream: both directions' bytes in delivery order, as ``tshark -q -z follow,tcp,MODE,N`` prints
them (Wireshark 4.0, ``ui/cli/tap-follow.c``): a header naming the stream and its two nodes, then one
entry per delivered chunk, the server's indented by a tab; ``raw`` as hex, ``ascii`` as the byte count
then the text with every byte that is not printable, CR or LF written ``.``."""
from __future__ import annotations

from netstudy.errors import InputError
from netstudy.stats.reassembly.tcp import TcpStream

MODES = ("raw", "ascii")
RULE = "=" * 67


def _printable(data: bytes) -> str:
    return "".join(chr(b) if 32 <= b < 127 or b in (10, 13) else "." for b in data)


def follow(stream: TcpStream, mode: str = "ascii") -> str:
    """The stream as tshark's ``-z follow,tcp,MODE,N`` block (``mode`` ``raw`` or ``ascii``)."""
    if mode not in MODES:
        raise InputError(f"follow mode {mode!r} is not one of {', '.join(MODES)}")
    lines = ["", RULE, f"Follow: tcp,{mode}", f"Filter: tcp.stream eq {stream.index}",
             f"Node 0: {_node(stream.client, stream.followed)}", f"Node 1: {_node(stream.server, stream.followed)}"]
    for chunk in stream.chunks:
        indent = "\t" if chunk.direction else ""
        data = chunk.data
        if mode == "raw":
            lines.append(indent + data.hex())
        else:
            lines.append(f"{indent}{len(data)}")
            lines.append(_printable(data))
    lines.append(RULE)
    return "\n".join(lines) + "\n"


def _node(end: tuple[str, int], followed: bool) -> str:
    """``address:port`` (``[address]:port`` for IPv6); tshark's ``:0`` when no segment of the stream could
    be followed (every header cut)."""
    if not followed:
        return ":0"
    return f"[{end[0]}]:{end[1]}" if ":" in end[0] else f"{end[0]}:{end[1]}"
