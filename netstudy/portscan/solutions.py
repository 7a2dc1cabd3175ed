"""Reference answers to notebook 04's exercises (shown on demand: ``print(inspect.getsource(...))``).
Nothing here is named like the student's functions, so running it never replaces their work."""
from __future__ import annotations


def solution_expand(spec: str) -> list[int]:
    ports: set[int] = set()
    for item in spec.split(","):
        low, dash, high = item.partition("-")
        if dash:
            ports.update(range(int(low or 1), int(high or 65535) + 1))
        else:
            ports.add(int(item))
    return sorted(ports)


def solution_verdict(flags: str | None) -> str:
    if flags is None:
        return "filtered"
    if "R" in flags:
        return "closed"
    return "open" if "S" in flags else "filtered"
