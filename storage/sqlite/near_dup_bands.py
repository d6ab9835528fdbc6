"""The near-duplicate band table held in process memory: packed arrays, loaded from SQLite.

Why in the process: a lookup seeks 64 band keys. Kept in SQLite's file, those are 64
random leaves of a B-tree (~500 MB at a million tracks) that the kernel may drop from its
page cache at any time (a VM's proactive reclaim drops file pages idle for a minute), and
each cold leaf is a disk read. Anonymous memory stays (no swap), so here a lookup never
waits for the disk to find its candidates. ``near_dup_bands`` stays the durable truth,
written in the same transaction as today; this copy is rebuilt from it at start-up.

Layout (``PackedBands``), about 8 bytes a band row, no Python object per entry:

* the rows in ``(band, doc)`` order, as SQLite's primary key already holds them;
* ``lo``: bits 16..47 of each band (array of 32-bit unsigned), ``docs``: each row's doc;
* a directory of runs: ``run_hi`` holds each distinct ``band >> 48`` (a few thousand) and
  ``run_start`` where its rows start. A band is found by a bisection in the directory, then
  one in its run's ``lo`` (rows of one run are sorted by ``lo``). Bits 0..15 are not kept:
  a query key that differs from a stored band only there counts as it, about once in 3,000
  lookups at a million tracks; that is one extra hit, and a candidate needs two.

Bands are bottom-k hashes, so they crowd the low end of the 63-bit range; the directory
stores only runs that exist, so that skew costs nothing.

``BandTable`` adds what changed since the packed copy was made (recent changes in dicts,
older ones folded into ``SortedPairs``; past ``REBUILD_AFTER`` changed tracks the packed
copy is rebuilt from SQLite in a background thread) and is safe to read from worker
threads while the event loop updates it.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
import time
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

log = logging.getLogger(__name__)

RUN_SHIFT = 48  # a run: the rows whose bands agree above bit 48
LO_SHIFT = 16  # ``lo`` keeps bits 16..47 (byte-aligned, so loading slices bytes instead of looping)
_LO_MASK = 0xFFFFFFFF
LOAD_ROWS = 1 << 15  # rows fetched at a time while loading (~4 MB of transient tuples)
# Past this many tracks added or removed since the packed copy was made, it is rebuilt from
# SQLite in a background thread (the changes cost ~400 bytes a track until then).
REBUILD_AFTER = 20_000

if array("I").itemsize != 4:  # pragma: no cover - every platform we run on has a 4-byte unsigned int
    raise ImportError("near_dup_bands needs a 4-byte array('I')")


@dataclass(frozen=True, slots=True)
class PackedBands:
    """Band rows in ``(band, doc)`` order as packed arrays (see the module docstring)."""

    run_hi: array[int]
    run_start: array[int]  # one more than ``run_hi``: the end of the last run
    lo: array[int]
    docs: array[int]

    def docs_with(self, band: int) -> Iterator[int]:
        """The docs holding ``band``."""
        hi = band >> RUN_SHIFT
        run = bisect_left(self.run_hi, hi)
        if run == len(self.run_hi) or self.run_hi[run] != hi:
            return
        end = self.run_start[run + 1]
        lo = (band >> LO_SHIFT) & _LO_MASK
        lows, docs = self.lo, self.docs
        at = bisect_left(lows, lo, self.run_start[run], end)
        while at < end and lows[at] == lo:
            yield docs[at]
            at += 1

    @property
    def rows(self) -> int:
        """Band rows held."""
        return len(self.docs)

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays."""
        return sum(a.itemsize * len(a) for a in (self.run_hi, self.run_start, self.lo, self.docs))


class _Builder:
    """Packs ``(band, doc)`` rows that arrive in order, a chunk at a time."""

    def __init__(self) -> None:
        self.run_hi, self.run_start = array("I"), array("I")
        self.lo, self.docs = array("I"), array("I")
        self._last_hi = -1
        self._last_band = -1

    def extend(self, rows: Sequence[tuple[int, int]]) -> None:
        if not rows:
            return
        # C loops from here on (no Python step per row), except one step per run.
        pairs = array("q", chain.from_iterable(rows))  # band, doc, band, doc, ...
        bands = pairs[0::2]
        if bands[0] < self._last_band or bands[0] < 0:
            raise ValueError("band rows must come in order, as non-negative integers")
        self._last_band = bands[-1]
        offset = len(self.lo)
        if sys.byteorder != "little":  # pragma: no cover - big-endian machines
            pairs.byteswap()
        raw = pairs.tobytes()
        # little-endian 16-byte rows: lo = bytes 2..5 of the band, the doc = bytes 8..11
        lows, docs = bytearray(4 * len(bands)), bytearray(4 * len(bands))
        for byte in range(4):
            lows[byte::4] = raw[2 + byte :: 16]
            docs[byte::4] = raw[8 + byte :: 16]
        if any(raw[12::16]) or any(raw[13::16]) or any(raw[14::16]) or any(raw[15::16]):
            raise ValueError("a doc number above 2**32")
        for target, packed in ((self.lo, lows), (self.docs, docs)):
            part = array("I")
            part.frombytes(bytes(packed))
            if sys.byteorder != "little":  # pragma: no cover - big-endian machines
                part.byteswap()
            target.extend(part)
        at, count = 0, len(bands)
        while at < count:  # one step per run (a few thousand runs in all)
            hi = bands[at] >> RUN_SHIFT
            if hi != self._last_hi:
                self.run_hi.append(hi)
                self.run_start.append(offset + at)
                self._last_hi = hi
            at = bisect_left(bands, (hi + 1) << RUN_SHIFT, at)

    def finish(self) -> PackedBands:
        self.run_start.append(len(self.lo))
        return PackedBands(self.run_hi, self.run_start, self.lo, self.docs)


def pack(rows: Iterable[Sequence[tuple[int, int]]]) -> PackedBands:
    """Packed bands from chunks of ``(band, doc)`` rows in order."""
    builder = _Builder()
    for chunk in rows:
        builder.extend(chunk)
    return builder.finish()


class LoadStopped(Exception):
    """A load given up because the instance is stopping."""


def read_packed(path: Path, stop: threading.Event | None = None) -> tuple[PackedBands, list[int]]:
    """The band table of the database at ``path``, packed, and the deleted docs whose rows are
    still in it (``near_dup_sweep``); one read transaction, no memory map. ``LoadStopped`` once
    ``stop`` is set (checked every ``LOAD_ROWS`` rows)."""
    conn = sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False, timeout=30.0, isolation_level=None
    )
    try:
        # No memory map: one sequential pass with the kernel's read-ahead, and the file's pages
        # need not stay anywhere after it.
        conn.execute("PRAGMA mmap_size=0")
        conn.execute("BEGIN")  # both reads from one snapshot
        forgotten = [int(row[0]) for row in conn.execute("SELECT doc FROM near_dup_forgotten")]
        cursor = conn.execute("SELECT band, doc FROM near_dup_bands ORDER BY band, doc")

        def chunks() -> Iterator[list[tuple[int, int]]]:
            for chunk in iter(lambda: cursor.fetchmany(LOAD_ROWS), []):
                if stop is not None and stop.is_set():
                    raise LoadStopped
                yield chunk

        packed = pack(chunks())
        conn.execute("COMMIT")
        return packed, forgotten
    finally:
        conn.close()


class SortedPairs:
    """``(band, doc)`` pairs in order as two arrays (12 bytes a pair): the changes since the packed copy."""

    __slots__ = ("bands", "docs")

    def __init__(self, bands: array[int] | None = None, docs: array[int] | None = None) -> None:
        self.bands = bands if bands is not None else array("q")
        self.docs = docs if docs is not None else array("I")

    def docs_with(self, band: int) -> Iterator[int]:
        """The docs holding ``band``."""
        bands, docs = self.bands, self.docs
        at = bisect_left(bands, band)
        while at < len(bands) and bands[at] == band:
            yield docs[at]
            at += 1

    def merged(self, pairs: Sequence[tuple[int, int]]) -> SortedPairs:
        """A copy with ``pairs`` (in order) merged in: one slice copy per pair, in C."""
        bands, docs = array("q"), array("I")
        done = 0
        for band, doc in pairs:
            at = bisect_left(self.bands, band, done)
            bands.extend(self.bands[done:at])
            docs.extend(self.docs[done:at])
            bands.append(band)
            docs.append(doc)
            done = at
        bands.extend(self.bands[done:])
        docs.extend(self.docs[done:])
        return SortedPairs(bands, docs)

    def __len__(self) -> int:
        return len(self.docs)


# Where a doc's current bands are (``BandTable._owner``; a doc missing there: the packed copy).
_PACKED, _FOLDED, _RECENT, _GONE = 0, 1, 2, -1
# Tracks changed since the last fold that are kept in dicts (~6 KB each); then they are folded
# into ``SortedPairs`` (12 bytes a band) on the event loop, a few milliseconds.
RECENT_MAX = 256


class BandTable:
    """The packed band table plus what changed since it was made; shared by a database's indexes.

    Updates (``add``/``remove``) come from the event loop after each commit; lookups
    (``hits``) from worker threads. Three tiers: the packed copy, the folded changes
    (``SortedPairs``), the recent changes (dicts). ``_owner`` says which tier holds each
    changed doc's current bands; rows of that doc in the other tiers do not count. So
    replaying a change on a packed copy that already holds it is harmless, which is how a
    (re)load taken from a snapshot catches up with the changes committed while it ran.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._packed: PackedBands | None = None
        self._folded = SortedPairs()
        self._recent: dict[int, tuple[int, ...]] = {}
        self._postings: dict[int, list[int]] = {}
        self._owner: dict[int, int] = {}
        self._during_load: list[tuple[int, tuple[int, ...], bool]] | None = None
        self._path: Path | None = None
        self.loads = 0  # packed copies made (start-up load and rebuilds)
        self.last_load_s = 0.0

    @property
    def ready(self) -> bool:
        """Whether lookups can be answered from memory."""
        return self._packed is not None

    @property
    def loading(self) -> bool:
        """Whether a (re)load is running."""
        return self._during_load is not None

    def nbytes(self) -> int:
        """Bytes of the packed copy and the folded changes (the dicts are bounded by ``RECENT_MAX``)."""
        packed, folded = self._packed, self._folded
        size = packed.nbytes if packed is not None else 0
        return size + folded.bands.itemsize * len(folded.bands) + folded.docs.itemsize * len(folded.docs)

    def load(self, path: Path, stop: threading.Event | None = None) -> int:
        """Build the packed copy from the database (blocking: call it in a worker thread); its rows.

        Changes committed while it runs are recorded and replayed on the new copy.
        ``LoadStopped`` once ``stop`` is set (the instance is stopping).
        """
        with self._lock:
            if self._during_load is not None:
                raise RuntimeError("a load is already running")
            self._during_load = []
            self._path = path
        started = time.perf_counter()
        try:
            packed, forgotten = read_packed(path, stop)  # its snapshot starts after recording began
        except BaseException:
            with self._lock:
                self._during_load = None
            raise
        with self._lock:
            changes, self._during_load = self._during_load, None
            self._packed = packed
            self._folded, self._recent, self._postings = SortedPairs(), {}, {}
            self._owner = dict.fromkeys(forgotten, _GONE)  # deleted, their rows not swept yet
            for doc, bands, added in changes:
                self._apply(doc, bands, added)
        self.loads += 1
        self.last_load_s = time.perf_counter() - started
        return packed.rows

    def add(self, doc: int, bands: Sequence[int]) -> None:
        """A committed insert of ``doc`` with these bands."""
        self._change(doc, tuple(bands), True)

    def remove(self, doc: int) -> None:
        """A committed delete of ``doc``."""
        self._change(doc, (), False)

    def _change(self, doc: int, bands: tuple[int, ...], added: bool) -> None:
        with self._lock:
            if self._during_load is not None:
                self._during_load.append((doc, bands, added))
            elif self._packed is None:
                return  # never loaded: lookups use SQLite, and a load will read this change there
            self._apply(doc, bands, added)
            rebuild = len(self._owner) > REBUILD_AFTER and self._during_load is None and self._path is not None
        if rebuild:
            threading.Thread(target=self._rebuild, name="near-dup bands rebuild", daemon=True).start()

    def _apply(self, doc: int, bands: tuple[int, ...], added: bool) -> None:
        for band in self._recent.pop(doc, ()):
            posting = self._postings[band]
            posting.remove(doc)
            if not posting:
                del self._postings[band]
        if not added:
            self._owner[doc] = _GONE
            return
        self._owner[doc] = _RECENT
        self._recent[doc] = bands
        for band in bands:
            self._postings.setdefault(band, []).append(doc)
        if len(self._recent) >= RECENT_MAX:
            pairs = sorted((band, d) for d, recent_bands in self._recent.items() for band in recent_bands)
            self._folded = self._folded.merged(pairs)
            for d in self._recent:
                self._owner[d] = _FOLDED
            self._recent.clear()
            self._postings.clear()

    def _rebuild(self) -> None:
        path = self._path
        if path is None:
            return
        try:
            rows = self.load(path)
        except (RuntimeError, LoadStopped):
            return  # another load got there first, or the instance is stopping
        except Exception:
            log.exception("near-duplicate band table: rebuild failed (changes stay in the delta)")
            return
        log.info("near-duplicate band table rebuilt: %d rows in %.1f s", rows, self.last_load_s)

    def hits(self, keys: Sequence[int]) -> dict[int, int] | None:
        """How many of ``keys`` each doc holds (None until loaded)."""
        with self._lock:
            packed = self._packed
            if packed is None:
                return None
            counts: dict[int, int] = {}
            owner, folded, postings = self._owner, self._folded, self._postings
            for key in keys:
                for doc in packed.docs_with(key):
                    if owner.get(doc, _PACKED) == _PACKED:
                        counts[doc] = counts.get(doc, 0) + 1
                if folded.bands:
                    for doc in folded.docs_with(key):
                        if owner.get(doc) == _FOLDED:
                            counts[doc] = counts.get(doc, 0) + 1
                for doc in postings.get(key, ()):
                    counts[doc] = counts.get(doc, 0) + 1
            return counts
