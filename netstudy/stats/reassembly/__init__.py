"""Reassembly: IP fragments back into datagrams, TCP segments into streams, streams into DNS messages.

- ``ipfrag.py``: :class:`Defragmenter` (IPv4 and IPv6, overlaps and timeouts as Linux handles them),
  :class:`Datagram` with its RFC 815 step log (:class:`Step`), :class:`Drop`.
- ``tcp.py``: :class:`StreamTable` of :class:`TcpStream` (numbered as tshark's ``tcp.stream``, states
  :class:`State` through :data:`TABLE`), :class:`Segment` in, :class:`Chunk` / :class:`Gap` /
  :class:`Anomaly` out.
- ``follow.py``: :func:`follow`, a stream as ``tshark -q -z follow,tcp,raw|ascii,N`` prints it.
- ``dnstcp.py``: :func:`dns_messages`, DNS over TCP cut from a stream's bytes (RFC 1035 §4.2.2, RFC 7766).
- ``capture.py``: :func:`reassemble` a capture (path or Records) into a :class:`Reassembly`.
"""
from netstudy.stats.reassembly.capture import Reassembly, reassemble, segment_of
from netstudy.stats.reassembly.dnstcp import DnsMessage, dns_messages, is_dns
from netstudy.stats.reassembly.follow import follow
from netstudy.stats.reassembly.ipfrag import Datagram, Defragmenter, Drop, Step, holes_text
from netstudy.stats.reassembly.tcp import TABLE, Anomaly, Chunk, Gap, Segment, State, StreamTable, TcpStream

__all__ = ["Reassembly", "reassemble", "segment_of", "DnsMessage", "dns_messages", "is_dns", "follow", "Datagram",
           "Defragmenter", "Drop", "Step", "holes_text", "TABLE", "Anomaly", "Chunk", "Gap", "Segment", "State",
           "StreamTable", "TcpStream"]
