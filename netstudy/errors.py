"""The errors netstudy raises: one small hierarchy, each saying exactly what went wrong."""
from __future__ import annotations

import math


class NetstudyError(Exception):
    """Base of every error netstudy raises on purpose."""


class DecodeError(NetstudyError, ValueError):
    """Bytes that do not decode: names the layer, the field and the byte offset where it failed."""

    def __init__(self, layer: str, field: str, offset: int, reason: str) -> None:
        self.layer, self.field, self.offset, self.reason = layer, field, offset, reason
        super().__init__(f"{layer}: {field} at byte {offset}: {reason}")


class BuildError(NetstudyError, ValueError):
    """A header that cannot be built: a field value out of range or of the wrong kind."""


class InputError(NetstudyError, ValueError):
    """A value a user gave (an option, a name, an address, a file's content) that cannot be used; the
    message names the value and says what would be accepted, as ``ipaddress`` does."""


class PrivilegeError(NetstudyError, PermissionError):
    """An operation this process may not do; the message says what is missing and what is used instead."""


def check_number(what: str, value: object, low: float, high: float, *, whole: bool = False,
                 above: bool = False, given: str | None = None) -> None:
    """InputError unless ``value`` is a finite number from ``low`` to ``high`` (strictly above ``low``
    when ``above``), and a whole number when ``whole``. ``given`` is the text the value was read from,
    for the message. The one range check behind every numeric option: an engine's arguments and the
    CLI's options say the same thing."""
    number = isinstance(value, int) if whole else isinstance(value, (int, float)) and math.isfinite(value)
    if number and not isinstance(value, bool):
        assert isinstance(value, (int, float))
        if (low < value if above else low <= value) and value <= high:
            return
    kind = "a whole number" if whole else "a number"
    lo, hi = (str(int(x)) if float(x).is_integer() else f"{x:g}" for x in (low, high))
    bounds = f"above {lo}, up to {hi}" if above else f"from {lo} to {hi}"
    shown = repr(given) if given is not None else repr(value)
    raise InputError(f"{what} must be {kind} {bounds}, not {shown}")
