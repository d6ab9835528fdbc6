"""Packed rows and interned keys: how the curation index holds millions of likes compactly.

A Python dict, set or list costs 30-100 bytes an entry (an object per int, a slot per
entry); 2,000,000 likes held that way took ~2 GB (bench/scale.py). Here every row of
ints lives in one shared ``array`` (CSR: row ``i`` is ``values[offsets[i]:offsets[i+1]]``)
at 4 bytes an entry, packed once when the index is built; what arrives after the build
(a few thousand likes between two rebuilds) is kept in small per-row lists beside it.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from hashlib import blake2b


def packed(rows: Sequence[Sequence[int]], code: str = "i") -> tuple[array[int], array[int]]:
    """Offsets and values of ``rows`` laid end to end."""
    offsets = array("q", [0])
    values = array(code)
    for row in rows:
        values.extend(row)
        offsets.append(len(values))
    return offsets, values


class Rows:
    """Rows of ints (row ``i`` in the order its values came): a packed base and rows grown since."""

    __slots__ = ("_offsets", "_values", "_grown", "_code")

    def __init__(self, offsets: array[int] | None = None, values: array[int] | None = None, code: str = "i") -> None:
        self._code = code
        self._offsets = offsets if offsets is not None else array("q", [0])
        self._values = values if values is not None else array(code)
        self._grown: dict[int, list[int]] = {}

    def row(self, i: int, last: int | None = None) -> array[int]:
        """Row ``i`` (its ``last`` values only, when given)."""
        grown = self._grown.get(i)
        if last is not None and grown and len(grown) >= last:
            return array(self._code, grown[len(grown) - last :])
        lo, hi = self._span(i)
        if last is not None:
            lo = max(lo, hi - (last - (len(grown) if grown else 0)))
        base = self._values[lo:hi]
        if grown:
            base.extend(grown)
        return base

    def _span(self, i: int) -> tuple[int, int]:
        if i + 1 < len(self._offsets):
            return self._offsets[i], self._offsets[i + 1]
        return 0, 0

    def size(self, i: int) -> int:
        """How many values row ``i`` holds."""
        lo, hi = self._span(i)
        grown = self._grown.get(i)
        return hi - lo + (len(grown) if grown else 0)

    def position(self, i: int, value: int) -> int:
        """Where ``value`` first is in row ``i``, or -1."""
        lo, hi = self._span(i)
        try:
            return self._values[lo:hi].index(value)
        except ValueError:
            pass
        grown = self._grown.get(i)
        if grown and value in grown:
            return hi - lo + grown.index(value)
        return -1

    def at(self, i: int, position: int) -> int:
        """The value at ``position`` of row ``i``."""
        lo, hi = self._span(i)
        if position < hi - lo:
            return self._values[lo + position]
        return self._grown[i][position - (hi - lo)]

    def append(self, i: int, value: int) -> None:
        """Add ``value`` at the end of row ``i``."""
        self._grown.setdefault(i, []).append(value)

    def grown_count(self) -> int:
        """Values added since the base was packed."""
        return sum(len(g) for g in self._grown.values())

    def packed_copy(self, rows: int) -> Rows:
        """The same rows (``rows`` of them) packed into one base."""
        return Rows(*packed([self.row(i) for i in range(rows)], self._code), code=self._code)


def stable_hash(key: str) -> int:
    """A 64-bit hash of ``key`` that is the same in every process (``hash`` is salted per
    process, and an index built in one process is read in another)."""
    return int.from_bytes(blake2b(key.encode(), digest_size=8).digest(), "little", signed=True)


class Interned:
    """Keys (strings) numbered 0, 1, 2 … in the order first seen, both ways, compactly.

    A packed key is found by its ``stable_hash`` in sorted hash and number arrays (12 bytes a
    key); keys added since the last pack are in a dict by the process's own ``hash`` (~20x
    cheaper to compute: a rebuild numbers millions); the keys themselves are one UTF-8 buffer
    (the number -> key direction). Two distinct keys with the same 64-bit hash would share a
    number: at 300,000 members that chance is about 2 in a billion. A pickled ``Interned`` is
    packed first, so the per-process hashes never leave the process.
    """

    __slots__ = ("_hashes", "_numbers", "_recent", "_text", "_ends")

    def __init__(self) -> None:
        self._hashes = array("q")
        self._numbers = array("i")
        self._recent: dict[int, int] = {}
        self._text = bytearray()
        self._ends = array("q")

    def __len__(self) -> int:
        return len(self._ends)

    def find(self, key: str) -> int | None:
        """The number of ``key``, or None."""
        found = self._recent.get(hash(key))
        if found is None and self._hashes:
            h = stable_hash(key)
            at = bisect_left(self._hashes, h)
            if at < len(self._hashes) and self._hashes[at] == h:
                return self._numbers[at]
        return found

    def add(self, key: str) -> tuple[int, bool]:
        """The number of ``key`` and whether it is new."""
        found = self.find(key)
        if found is not None:
            return found, False
        return self._new(key), True

    def number(self, key: str) -> int:
        """The number of ``key``, numbering it if new (the fast path of a rebuild's millions)."""
        found = self.find(key)
        return found if found is not None else self._new(key)

    def _new(self, key: str) -> int:
        number = len(self._ends)
        self._recent[hash(key)] = number
        self._text += key.encode()
        self._ends.append(len(self._text))
        return number

    def key(self, number: int) -> str:
        """The key numbered ``number``."""
        start = self._ends[number - 1] if number else 0
        return self._text[start : self._ends[number]].decode()

    def pack(self) -> None:
        """Move the keys added since the last pack into the sorted arrays (after a build)."""
        if not self._recent:
            return
        recent = [(stable_hash(self.key(n)), n) for n in self._recent.values()]
        merged = sorted([*zip(self._hashes, self._numbers, strict=True), *recent])
        self._hashes = array("q", (h for h, _ in merged))
        self._numbers = array("i", (n for _, n in merged))
        self._recent = {}

    def __getstate__(self) -> tuple[None, dict[str, object]]:
        self.pack()
        return None, {name: getattr(self, name) for name in self.__slots__}

    def keys(self) -> Iterable[str]:
        """Every key, by number."""
        return (self.key(n) for n in range(len(self)))
