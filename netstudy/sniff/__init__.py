"""The packet sniffer: every frame an interface sees, as tcpdump shows it (``netstudy sniff``, notebook 05).

- ``core.py``: sans-I/O bookkeeping: a :class:`Capture` (states :data:`TABLE`) files each
  :class:`Captured` frame against the :class:`Limits` (count, duration, bytes), counts by direction and
  keeps the kernel's end counters in :class:`CaptureStats`; the :class:`CaptureResult` with ``to_frame()``.
- ``engine.py``: :class:`Sniffer` reads frames from an interface (``netstudy.net.packet``: a TPACKET_V3
  ring or ``recvfrom``) or a capture file through the same BPF filter, in the caller's thread or on a
  background thread with ``stop()``; :func:`sniff`, :func:`replay`, :func:`compile_program`.
- ``output.py``: tcpdump's lines (:func:`packet_line`, the ``-v`` dissection, the ``-X`` hexdump, the
  statistics at the end).
- ``figures.py``: :func:`protocol_timeline` (packets per protocol over time).
- ``seed.py``: the course's original sniffer, fields at fixed offsets: notebook 05's first lesson (and
  its IP-options bug).
- ``exercises.py`` / ``solutions.py``: notebook 05's checks and their reference answers.
"""
from netstudy.sniff.core import TABLE, Capture, Captured, CaptureResult, CaptureStats, Limits, State, protocol_counts
from netstudy.sniff.engine import Sniffer, compile_program, replay, sniff
from netstudy.sniff.output import dissection, end_lines, hex_lines, packet_line, timestamp

__all__ = ["TABLE", "Capture", "Captured", "CaptureResult", "CaptureStats", "Limits", "State", "protocol_counts",
           "Sniffer", "compile_program", "replay", "sniff", "dissection", "end_lines", "hex_lines", "packet_line",
           "timestamp"]
