"""tcpdump filter expressions compiled to classic BPF, and a BPF interpreter (sans-I/O).

- :mod:`netstudy.wire.bpf.parse`: the filter language of pcap-filter(7) into a syntax tree;
  :class:`FilterError` points at the offending token.
- :mod:`netstudy.wire.bpf.compile`: :func:`compile_filter`, the tree lowered to tests with libpcap's
  meaning for each primitive, laid out as jumps with labels and resolved into a program; ``live=True``
  for a Linux packet socket, where ``vlan`` reads the tag the kernel took out of the frame.
- :mod:`netstudy.wire.bpf.checks`: the tests the lowering produces and the loads they start with.
- :mod:`netstudy.wire.bpf.optimize`: :func:`optimize_program`, libpcap's kind of optimiser on basic blocks
  (jump threading over known tests, redundant and dead loads, identical blocks), run by ``compile_filter``
  unless ``optimize=False``.
- :mod:`netstudy.wire.bpf.program`: :class:`BpfProgram` (its ``tcpdump -d`` listing, the packed
  ``struct sock_filter`` array for ``SO_ATTACH_FILTER``, and ``run()``, the kernel's verdict on a packet),
  :class:`Instruction`.

    >>> program = compile_filter("tcp port 80", linktype=1)
    >>> print(program.listing())          # like tcpdump -d
    >>> program.accepts(frame)            # what the kernel would decide
    >>> compile_filter("vlan 10", live=True).accepts(untagged, vlan_tci=10)   # the tag in metadata

Attaching a program to a socket is I/O: :mod:`netstudy.net.filter`.
"""
from netstudy.wire.bpf.compile import compile_filter
from netstudy.wire.bpf.parse import FilterError
from netstudy.wire.bpf.program import BpfProgram, Instruction

__all__ = ["compile_filter", "FilterError", "BpfProgram", "Instruction"]
