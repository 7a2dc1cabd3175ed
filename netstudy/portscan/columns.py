"""A scan's records kept column-wise (:class:`RecordColumns`): one array of numbers per field, a
:class:`~netstudy.portscan.core.PortRecord` made only when read. What a split scan's workers send
(:mod:`netstudy.portscan.workers`) is filed here, and a full range's report reads the columns
(:func:`state_groups`, :func:`least_rtt`, :func:`not_in`, which take a plain list of records too)
without making an object per closed port."""
from __future__ import annotations

import itertools
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import overload

from netstudy.portscan.core import PortRecord, State

STATE_CODES = tuple(State)                                 # a state as one byte: its place here
STATE_CODE = {state: code for code, state in enumerate(STATE_CODES)}     # and back
NO_VALUE = -1                                              # a column's None (times, TTLs: never negative)


def state_code(state: State) -> int:
    return STATE_CODE[state]


class RecordColumns(Sequence[PortRecord]):
    """The records of a scan of ``hosts`` × ``ports`` (port by port, every host at each: index ``port_at *
    len(hosts) + host_at``) kept column-wise, one array of numbers per field, and made
    :class:`PortRecord` objects only when asked for (``columns[i]``, iteration), each once: a full
    range's 65,535 closed ports cost no object until something reads them. Filled by :meth:`put`;
    what :meth:`put` never reached is a QUEUED record, never probed. ``name(port, protocol)`` gives
    a record its service when it is made (closed ports only if ``name_closed``)."""

    def __init__(self, hosts: Sequence[str], ports: Sequence[int], protocol: str,
                 name: Callable[[int, str], str], name_closed: bool) -> None:
        self.hosts, self.ports, self.protocol = tuple(hosts), ports, protocol
        self._name, self._name_closed = name, name_closed
        total = len(hosts) * len(ports)
        self.state = array("B", [STATE_CODE[State.QUEUED]]) * total
        self.reason = array("H", [0]) * total                   # the place of its text in self.reasons
        self.reasons: list[str] = [""]
        self._reason_at = {"": 0}
        self.attempts = array("l", [0]) * total
        self.requeued = array("l", [0]) * total
        self.sent = array("q", [NO_VALUE]) * total                # the last attempt's send time
        self.sent_before: dict[int, list[int]] = {}               # every send time, where there were several
        self.received = array("q", [NO_VALUE]) * total
        self.rtt = array("q", [NO_VALUE]) * total
        self.ttl = array("h", [NO_VALUE]) * total
        self._made: list[PortRecord | None] = [None] * total

    def __len__(self) -> int:
        return len(self.state)

    @overload
    def __getitem__(self, index: int) -> PortRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[PortRecord]: ...

    def __getitem__(self, index: int | slice) -> PortRecord | list[PortRecord]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        record = self._made[index]
        return self._make(index) if record is None else record

    def __iter__(self) -> Iterator[PortRecord]:
        made = self._made
        for index in range(len(made)):
            record = made[index]
            yield self._make(index) if record is None else record

    def _make(self, index: int) -> PortRecord:
        state = STATE_CODES[self.state[index]]
        port_at, host_at = divmod(index, len(self.hosts))
        port = self.ports[port_at]
        last = self.sent[index]
        sent = self.sent_before.get(index) or ([] if last == NO_VALUE else [last])
        received, rtt, ttl = self.received[index], self.rtt[index], self.ttl[index]
        service = self._name(port, self.protocol) if self._name_closed or state is not State.CLOSED else ""
        record = self._made[index] = PortRecord(
            self.hosts[host_at], port, self.protocol, index, state, self.reasons[self.reason[index]],
            self.attempts[index], sent, None if received == NO_VALUE else received, None if rtt == NO_VALUE else rtt,
            None if ttl == NO_VALUE else ttl, service, "", self.requeued[index])
        return record

    def reason_code(self, reason: str) -> int:
        code = self._reason_at.get(reason)
        if code is None:
            code = self._reason_at[reason] = len(self.reasons)
            self.reasons.append(reason)
        return code

    def put(self, indices: Sequence[int], fields: Mapping[str, Sequence[int]]) -> None:
        """File records column-wise: ``fields[name][k]`` is the value of ``indices[k]``'s record in the
        column ``name`` (one of :data:`COLUMN_FIELDS`; reasons as codes of :meth:`reason_code`). A
        record already made is made again when next asked for. ``indices`` must increase (a worker
        sends its batch in order): each run of consecutive indices is copied whole, a slice a column."""
        columns = [(getattr(self, name), fields[name]) for name in COLUMN_FIELDS]
        for start, stop in _runs(indices, 0, len(indices)):
            first = indices[start]
            last = first + stop - start
            for column, values in columns:
                column[first:last] = array(column.typecode, values[start:stop])
            self._made[first:last] = [None] * (stop - start)

    # -- what a report reads, without making a record per port --
    def groups(self) -> Counter[tuple[State, str, str]]:
        """How many records per (state, protocol, reason): the reasons of each state present counted
        apart, picked from the reason column by a mask of that state (C loops: ``translate``, ``compress``)."""
        codes, groups = self.state.tobytes(), Counter[tuple[State, str, str]]()
        for code in set(codes):
            mask = codes.translate(bytes(int(other == code) for other in range(256)))
            for reason, count in Counter(itertools.compress(self.reason, mask)).items():
                groups[STATE_CODES[code], self.protocol, self.reasons[reason]] = count
        return groups

    def least_rtt(self) -> int | None:
        """The shortest round trip of an answered probe (not ``no-response``), None if none."""
        silent = self._reason_at.get("no-response")
        if silent is not None and silent in self.reason:
            return min((rtt for rtt, reason in zip(self.rtt, self.reason, strict=True)
                        if rtt != NO_VALUE and reason != silent), default=None)
        return min(filter(NO_VALUE.__lt__, self.rtt), default=None)      # the answered: a time, not NO_VALUE

    def not_in(self, states: Iterable[State]) -> list[PortRecord]:
        """The records whose state is not one of ``states``, in index order (each found by a search
        of the state column for its code: the few ports a report shows among 65,535)."""
        codes, found = self.state.tobytes(), []
        for code in set(range(len(STATE_CODES))) - {STATE_CODE[state] for state in states}:
            at = codes.find(code)
            while at != -1:
                found.append(at)
                at = codes.find(code, at + 1)
        return [self[index] for index in sorted(found)]


COLUMN_FIELDS = ("state", "reason", "attempts", "requeued", "sent", "received", "rtt", "ttl")


def _runs(indices: Sequence[int], start: int, stop: int) -> Iterator[tuple[int, int]]:
    """The runs of consecutive numbers in ``indices[start:stop]`` (increasing), as ``(start, stop)``:
    a stretch whose last number is its first plus its length less one is one run, else its halves."""
    if stop - start and indices[stop - 1] - indices[start] == stop - 1 - start:
        yield start, stop
    elif stop - start:
        middle = (start + stop) // 2
        yield from _runs(indices, start, middle)
        yield from _runs(indices, middle, stop)


def least_rtt(records: Sequence[PortRecord]) -> int | None:
    """The shortest round trip of an answered probe among ``records`` (``no-response`` excluded)."""
    if isinstance(records, RecordColumns):
        return records.least_rtt()
    return min((r.rtt_ns for r in records if r.rtt_ns is not None and r.reason != "no-response"), default=None)


def state_groups(records: Sequence[PortRecord]) -> Counter[tuple[State, str, str]]:
    """How many of ``records`` per (state, protocol, reason)."""
    if isinstance(records, RecordColumns):
        return records.groups()
    return Counter((r.state, r.protocol, r.reason) for r in records)


def not_in(records: Sequence[PortRecord], states: Iterable[State]) -> list[PortRecord]:
    """The records whose state is not one of ``states``, in order."""
    if isinstance(records, RecordColumns):
        return records.not_in(states)
    left_out = set(states)
    return [r for r in records if r.state not in left_out]
