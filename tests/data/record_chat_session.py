"""Record netstudy/data/captures/chat_session.pcap: notebook 06's chat session on loopback, captured with a
packet socket on ``lo`` (run as root: ``PYTHONPATH=. python tests/data/record_chat_session.py``). The
notebook replays it when it may not open a packet socket."""
from __future__ import annotations

from pathlib import Path

from netstudy import pcap
from netstudy.chat.session import capture_session, segments

OUT = Path(__file__).resolve().parents[2] / "netstudy" / "data" / "captures" / "chat_session.pcap"

if __name__ == "__main__":
    records, heard = capture_session()
    pcap.write(OUT, records)
    print(f"{OUT}: {len(records)} frames; bob heard {heard}")
    print(segments(records).drop(columns="payload").to_string())
