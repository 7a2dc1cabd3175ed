"""The errors netstudy raises: one small hierarchy, each saying exactly what went wrong."""
from __future__ import annotations


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
