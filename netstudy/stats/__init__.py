"""Capture statistics: Wireshark's Statistics menu as DataFrames, and reassembly (``reassembly/``:
IP defragmentation, TCP streams followed, DNS over TCP)."""
from netstudy.stats.reassembly import Reassembly, follow, reassemble

__all__ = ["Reassembly", "follow", "reassemble"]
