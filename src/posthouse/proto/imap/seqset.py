"""Sequence sets (RFC 9051 §9 `sequence-set`, RFC 5182 `$`).

    sequence-set = (seq-number / seq-range) ["," sequence-set] / "$"
    seq-range    = seq-number ":" seq-number      ; either order: 4:2 is 2:4
    seq-number   = nz-number / "*"                ; "*" is the largest number in use

A parsed set keeps the client's spelling (ranges in order, `None` for "*"), so
`str(SequenceSet.parse(text)) == text`; `SequenceSet.from_numbers` builds the
compressed form a server sends (1,2,3,5 → 1:3,5).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from posthouse.proto.imap.errors import ParseError

MAX_NUMBER = 0xFFFFFFFF  # RFC 9051 §9: nz-number is a 32-bit unsigned value
_ELEMENT = re.compile(r"(\*|[1-9][0-9]{0,9})(?::(\*|[1-9][0-9]{0,9}))?")

Bound = int | None  # None is "*"


def _number(text: str) -> Bound:
    if text == "*":
        return None
    value = int(text)
    if value > MAX_NUMBER:
        raise ParseError("Sequence number out of range")
    return value


@dataclass(frozen=True, slots=True)
class SequenceSet:
    """A sequence set: `ranges` of (first, last), a single number being (n, n) and "*"
    being None; or `saved` for "$", the result of the last SEARCH ... SAVE."""

    ranges: tuple[tuple[Bound, Bound], ...] = ()
    saved: bool = False

    def __post_init__(self) -> None:
        if self.saved == bool(self.ranges):
            raise ValueError("a sequence set is either '$' or at least one range")
        for first, last in self.ranges:
            for bound in (first, last):
                if bound is not None and not 1 <= bound <= MAX_NUMBER:
                    raise ValueError(f"sequence number out of range: {bound}")

    @classmethod
    def parse(cls, text: str) -> SequenceSet:
        if text == "$":
            return cls(saved=True)  # RFC 5182 §2.1
        ranges: list[tuple[Bound, Bound]] = []
        for element in text.split(","):
            match = _ELEMENT.fullmatch(element)
            if match is None:
                raise ParseError(f"Invalid sequence set: {text[:40]!r}")
            first = _number(match[1])
            last = first if match[2] is None else _number(match[2])
            ranges.append((first, last))
        return cls(tuple(ranges))

    @classmethod
    def from_numbers(cls, numbers: Iterable[int]) -> SequenceSet:
        """The shortest set holding exactly `numbers` (RFC 9051 §9 allows ranges)."""
        ordered = sorted(set(numbers))
        if not ordered:
            raise ValueError("an empty sequence set cannot be written")
        ranges: list[tuple[Bound, Bound]] = []
        start = previous = ordered[0]
        for number in ordered[1:]:
            if number != previous + 1:
                ranges.append((start, previous))
                start = number
            previous = number
        ranges.append((start, previous))
        return cls(tuple(ranges))

    def __str__(self) -> str:
        if self.saved:
            return "$"
        parts = []
        for first, last in self.ranges:
            a = "*" if first is None else str(first)
            parts.append(a if first == last else f"{a}:{'*' if last is None else last}")
        return ",".join(parts)

    def intervals(self, largest: int) -> list[tuple[int, int]]:
        """Sorted, merged (low, high) intervals with "*" resolved to `largest` (the
        highest sequence number or UID in use).  RFC 9051 §9: a range's ends may come
        in either order.  A "$" set has no numbers of its own: the server resolves it."""
        if self.saved:
            raise ValueError("'$' is resolved by the server from its saved search result")
        spans = sorted(
            (min(lo, hi), max(lo, hi))
            for lo, hi in (
                (largest if a is None else a, largest if b is None else b) for a, b in self.ranges
            )
        )
        merged: list[tuple[int, int]] = []
        for lo, hi in spans:
            if merged and lo <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
            else:
                merged.append((lo, hi))
        return merged

    def numbers(self, largest: int) -> Iterator[int]:
        """Each number in the set once, ascending."""
        for lo, hi in self.intervals(largest):
            yield from range(lo, hi + 1)

    def __contains__(self, item: tuple[int, int]) -> bool:
        """`(number, largest) in seqset`."""
        number, largest = item
        return any(lo <= number <= hi for lo, hi in self.intervals(largest))
