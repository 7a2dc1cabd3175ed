"""The port scanner: which TCP and UDP ports of a host are open, closed or filtered, by a connect,
SYN or UDP scan with nmap's port states and reasons (``netstudy portscan TARGET``, notebook 04).

- ``spec.py``: what to scan, as nmap writes it: port specs (:func:`parse_ports`), targets
  (:func:`expand_targets`). No I/O.
- ``core.py``: sans-I/O bookkeeping: what an answer means (:func:`tcp_verdict`, :func:`icmp_verdict`,
  :func:`connect_verdict`), a :class:`PortRecord` per (host, protocol, port) in a :class:`ScanTable`
  (states :class:`State` moved through :data:`TCP_TABLE` / :data:`UDP_TABLE`), the
  :class:`ScanResult` with ``to_frame()``, ``to_csv()``, ``to_json()``, :func:`combine`.
- ``packets.py``: the UDP probes built with ``netstudy.wire`` (:func:`udp_probe`, DNS and NTP payloads)
  and the answers read with it (:func:`read_tcp_answer`, :func:`read_udp_answer`,
  :func:`read_icmp_answer`); the SYN itself is ``netstudy.wire.syn.SynTemplate``. No I/O.
- ``services.py``: service names and ``--top-ports`` from nmap's installed ``nmap-services``, read at
  run time (never shipped: Nmap Public Source License), else ``/etc/services`` and netstudy's own
  short list ``data/portscan/top-ports.txt``.
- ``drivers.py``: the sockets of a connect scan (``Connect``), the ``Driver`` every scan type's sockets
  are, and ``descriptor_budget`` (how many sockets ``RLIMIT_NOFILE`` allows at once);
  ``packet_drivers.py``: those of the SYN and UDP scans (``Syn``, ``UdpRaw``, ``UdpDatagram``), imported
  only by them (with ``netstudy.net`` and ``netstudy.wire``).
- ``engine.py``: the loop and the clock: :class:`PortScan` / :func:`portscan` /
  :func:`portscan_async` for ``connect`` (non-blocking, bounded by ``RLIMIT_NOFILE``, self-connects
  caught), ``syn`` (SYNs on a raw socket, answers from a packet ring or a raw socket) and ``udp`` (raw, or connected UDP
  sockets without privilege), a long TCP scan split across worker processes (``workers``).
- ``banners.py``: :func:`grab_banners`, what open TCP services say first.
- ``workers.py``: the worker processes of a split scan (``fork``, a pipe each, the ports taken a share
  at a time from a pipe (``Shares``), the records sent back as arrays of numbers (``Packer``)),
  ``usable_cores``.
- ``columns.py``: a split scan's records kept column-wise (``RecordColumns``, a sequence of
  :class:`PortRecord` made only when read), and what a report reads of them without making one per port.
- ``output.py``: nmap's report (:func:`report_lines`: ``PORT STATE SERVICE REASON``, ``Not shown: ...``).
- ``figures.py``: :func:`port_map` (ports × scan types, coloured by state, reasons written in),
  :func:`timeline` (probe sent → answer, per port), :func:`handshake` (a TCP exchange as a ladder).
- ``seed.py``: the course's original scanner, one thread per port with ``connect()``: notebook 04's
  first lesson (and its self-connect trap).
- ``exercises.py`` / ``solutions.py``: notebook 04's checks and their reference answers.
"""
from typing import Any

from netstudy.portscan.banners import grab_banners
from netstudy.portscan.core import (
    SCANS,
    TCP_TABLE,
    UDP_TABLE,
    Answer,
    AnswersAlike,
    PortRecord,
    Probe,
    ScanResult,
    ScanTable,
    State,
    combine,
    connect_verdict,
    icmp_verdict,
    tcp_verdict,
)
from netstudy.portscan.engine import PortScan, portscan, portscan_async
from netstudy.portscan.services import ServiceTable, services
from netstudy.portscan.spec import PortSpec, expand_targets, parse_ports

__all__ = ["SCANS", "TCP_TABLE", "UDP_TABLE", "Answer", "AnswersAlike", "PortRecord", "PortSpec", "Probe", "ScanResult",
           "ScanTable", "State", "combine", "connect_verdict", "expand_targets", "icmp_verdict", "parse_ports",
           "tcp_verdict", "PortScan", "grab_banners", "portscan", "portscan_async", "udp_payload", "udp_probe",
           "ServiceTable", "services"]


def __getattr__(name: str) -> Any:
    """``udp_payload`` and ``udp_probe`` (``packets.py``), imported when first asked for: they need
    ``netstudy.wire``, which a connect scan never imports."""
    if name in ("udp_payload", "udp_probe"):
        from netstudy.portscan import packets
        return getattr(packets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
