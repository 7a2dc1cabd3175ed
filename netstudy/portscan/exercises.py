"""Notebook 04's checks: each runs the student's function on cases with known answers and says what
is wrong without giving the answer away."""
from __future__ import annotations

from collections.abc import Callable

from netstudy.portscan.core import tcp_verdict
from netstudy.portscan.spec import parse_ports


def check_port_spec(expand: Callable[[str], list[int]]) -> str:
    """Exercise 1: ``expand(spec)`` -> the sorted TCP ports of an nmap spec without prefixes (``22,80``,
    ``1-5``, ``-3``, ``65530-``)."""
    for spec in ("22,80,443", "1-5", "20-22,80", "-3", "65533-", "443,22"):
        want = sorted(parse_ports(spec).tcp)
        try:
            got = expand(spec)
        except Exception as exc:             # the student's bug, reported as a hint
            raise AssertionError(f"expand({spec!r}) raised {type(exc).__name__}: {exc}") from None
        if got is None:
            raise AssertionError(f"expand({spec!r}) returned None: return a list of ports")
        if sorted(got) != want:
            hint = ("an open-ended range (a side missing) means 1 or 65535" if "-" in (spec[0], spec[-1])
                    else "is the end of a range included?" if len(got) == len(want) - 1
                    else "split on commas, then on one dash")
            raise AssertionError(f"expand({spec!r}) gave {len(got)} port(s), expected {len(want)}: {hint}")
    return "✓ check_port_spec: all 6 specs expand as nmap expands them"


def check_syn_verdict(verdict: Callable[[str | None], str]) -> str:
    """Exercise 2: ``verdict(flags)`` -> nmap's state for the answer to a SYN: ``flags`` as tcpdump
    writes them (``"S."``, ``"R."``, ``"R"``), or None for no answer at all (after the retries)."""
    cases: list[tuple[str | None, str]] = [("S.", "open"), ("R.", "closed"), ("R", "closed"), (None, "filtered"),
                                           ("S", "open")]
    for flags, _ in cases:
        want = "filtered" if flags is None else (tcp_verdict("S" in flags, "." in flags, "R" in flags) or ("",))[0]
        got = verdict(flags)
        if got != want:
            what = "no answer at all" if flags is None else f"a segment with flags [{flags}]"
            raise AssertionError(f"verdict({flags!r}) = {got!r}: think about what {what} tells about the port "
                                 f"(nmap's words: open, closed, filtered)")
    return "✓ check_syn_verdict: all 5 answers judged as nmap judges them"
