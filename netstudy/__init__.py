"""netstudy: the TCP/IP stack, byte by byte, with the standard library alone."""
from __future__ import annotations

from netstudy.capabilities import Capabilities, capabilities
from netstudy.errors import BuildError, DecodeError, NetstudyError, PrivilegeError

__version__ = "0.1.0"
__all__ = ["Capabilities", "capabilities", "BuildError", "DecodeError", "NetstudyError",
           "PrivilegeError", "__version__"]


def _register_jupyter_display() -> None:
    """Let headers and packets draw themselves in Jupyter without importing matplotlib up front.

    wire/ must not import show/ (imports point down), so the link is made here, lazily, through
    IPython's display formatters, and only when running inside IPython.
    """
    import sys
    if "IPython" not in sys.modules:
        return
    from IPython import get_ipython
    ip = get_ipython()
    if ip is None:
        return

    def html(obj):
        from netstudy.show.html import to_html
        return to_html(obj)

    formatter = ip.display_formatter.formatters["text/html"]
    formatter.for_type_by_name("netstudy.wire.fields", "Header", html)
    formatter.for_type_by_name("netstudy.wire.decode", "Packet", html)


_register_jupyter_display()
