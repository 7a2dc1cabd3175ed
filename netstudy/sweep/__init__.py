"""The network scanner: which addresses of a subnet are alive, found by ICMP echo, ARP or TCP, all
probes in flight at once (``netstudy sweep CIDR``, notebook 03).

- ``core.py``: sans-I/O bookkeeping: a :class:`Target` per address in a :class:`SweepTable` (states
  :class:`State` moved through :data:`TABLE`: ``send``, ``answer``, ``retry``, ``give up``), the
  :class:`SweepResult` with ``to_frame()``, :func:`expand` (a CIDR to its addresses, at most a /16),
  :func:`initial_ttl`, :func:`combine` (one result from several methods).
- ``engine.py``: the sockets (``netstudy.net``) and the clock: :class:`Sweep` / :func:`sweep` /
  :func:`sweep_async` for the ``icmp``, ``arp`` and ``tcp`` methods (and ``all``), :func:`replay` (a
  sweep rebuilt from a recorded capture), :func:`arp_request` / :func:`read_arp_reply`.
- ``vendors.py``: who made a network card, from its MAC's OUI (:func:`vendor`; where the table comes from).
- ``output.py``: the lines the CLI prints, like ``fping -a -e`` (:func:`host_line`,
  :func:`summary_line`, :func:`sweep_lines`).
- ``figures.py``: :func:`grid` (a /24 as 16×16 cells coloured by state and RTT), :func:`timeline`.
- ``seed.py``: the course's original scanner, one ``ping`` subprocess per address (sequential, then a
  process pool): notebook 03's first lesson.
- ``exercises.py`` / ``solutions.py``: notebook 03's checks and their reference answers.
"""
from netstudy.sweep.core import (
    TABLE,
    Answer,
    Mark,
    Probe,
    State,
    SweepResult,
    SweepTable,
    Target,
    combine,
    expand,
    initial_ttl,
)
from netstudy.sweep.engine import Sweep, arp_request, read_arp_reply, replay, sweep, sweep_async
from netstudy.sweep.figures import grid, timeline
from netstudy.sweep.output import host_line, summary_line, sweep_lines
from netstudy.sweep.vendors import vendor

__all__ = ["TABLE", "Answer", "Mark", "Probe", "State", "SweepResult", "SweepTable", "Target", "combine", "expand",
           "initial_ttl", "Sweep", "arp_request", "read_arp_reply", "replay", "sweep", "sweep_async", "grid",
           "timeline", "host_line", "summary_line", "sweep_lines", "vendor"]
