"""Record netstudy/data/captures/p2p_link.pcap: notebook 07's TCP link between two peers on loopback (alice
dials bob, both say hello, alice gossips one line, alice leaves), captured with a packet socket on ``lo``
(run as root: ``PYTHONPATH=. python tests/data/record_p2p_link.py``). The notebook replays it when it may not
open a packet socket."""
from __future__ import annotations

from pathlib import Path

from netstudy import pcap
from netstudy.p2p.session import capture_link

OUT = Path(__file__).resolve().parents[2] / "netstudy" / "data" / "captures" / "p2p_link.pcap"

if __name__ == "__main__":
    records, heard = capture_link()
    pcap.write(OUT, records)
    print(f"{OUT}: {len(records)} frames; bob heard {heard}")
    print(pcap.tcp_segments(records).drop(columns="payload").to_string())
