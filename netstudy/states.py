"""States written as a table: the one small state machine every sans-I/O core uses.

A core that has a lifecycle (a DNS exchange, a probe, a chat member) declares its states as an
``enum.Enum`` and its moves as one table ``{(state, event): next_state}``, in the manner of h11's
``_state.py``. ``StateTable.next(state, event)`` is the only way a core changes state, so the table is
the whole truth: reading it tells every state the core can be in and what moves it. A move that is not
in the table is a bug in the core (not a bad packet: a core decides what to do with a peer's
unexpected input before it moves), so it raises :class:`ImpossibleTransition`.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Generic, TypeVar

S = TypeVar("S", bound=enum.Enum)


class ImpossibleTransition(RuntimeError):
    """A core asked for a move its table does not have: a programming error, never the network's."""


class StateTable(Generic[S]):
    """``(state, event) -> next state``, declared once; ``rows()`` lists it for a notebook."""

    __slots__ = ("initial", "moves")

    def __init__(self, initial: S, moves: Mapping[tuple[S, str], S]) -> None:
        self.initial = initial
        self.moves = dict(moves)

    def next(self, state: S, event: str) -> S:
        try:
            return self.moves[state, event]
        except KeyError:
            raise ImpossibleTransition(f"no move from {state.name} on {event!r}") from None

    def allows(self, state: S, event: str) -> bool:
        return (state, event) in self.moves

    def rows(self) -> list[tuple[str, str, str]]:
        """(state, event, next state) for every move, in the order declared."""
        return [(state.name, event, after.name) for (state, event), after in self.moves.items()]
