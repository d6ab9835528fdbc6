"""Near-duplicate keys: banded locality-sensitive hashing over Chromaprint sub-fingerprints.

AcoustID's server finds candidates by exact matches of (masked) sub-fingerprints between
the query and stored fingerprints, then scores the few candidates by comparing whole
fingerprints. The same idea, sized for one SQLite file:

* shingles: each 32-bit item of the first two minutes (``LOW_BITS`` low bits could be
  dropped; measured, it does not help: a re-encode keeps about half its items
  bit-exact). Items repeated within the track (steady notes, silence) are left out:
  they are the values many tracks share.
* bands: a stored track keeps only the ``BANDS`` shingles with the smallest hash (a
  bottom-k MinHash sketch). The choice is by value, not position, so a trimmed or
  shifted copy picks mostly the same shingles.
* lookup: the query's ``QUERY_BANDS`` smallest-hash shingles are looked up; a stored
  track that shares one or more is a candidate, ranked by how many it shares. Because a
  stored track's bands are among the smallest hashes of its own shingles, they are also
  among the smallest of a near-identical query's, so a query needs only a few times
  ``BANDS`` keys rather than all of them.

Candidates are then scored with ``core.fingerprint.similarity`` (off the event loop).
Band values are the 63-bit hashes themselves, so they index well as SQLite integers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from core.fingerprint import ITEMS_PER_SECOND

# Stored bands are only valid for the key scheme that made them: a change here needs a reindex
# (``SqliteNearDuplicateIndex.backfill`` after emptying the bands).
KEY_VERSION = 1
INDEXED_SECONDS = 120
INDEXED_ITEMS = int(INDEXED_SECONDS * ITEMS_PER_SECOND)
LOW_BITS = 0  # dropping low bits did not help: re-encodes keep ~half their items bit-exact (bench/near_dup.py)
BANDS = 32
QUERY_BANDS = 64
_MULT = 0x9E3779B97F4A7C15  # Fibonacci hashing: odd, so a bijection on 64-bit values
_MASK64 = (1 << 64) - 1


def _hash(shingle: int) -> int:
    # One multiply and one fold: enough mixing to order shingles at random, and cheap
    # (a thousand of them per track, in Python).
    mixed = (shingle * _MULT) & _MASK64
    mixed ^= mixed >> 32
    return mixed >> 1  # 63 bits: a positive SQLite INTEGER


def shingles(values: Sequence[int], low_bits: int = LOW_BITS) -> set[int]:
    """Coarse items of the indexed window, without the ones repeated inside the track."""
    window = values[:INDEXED_ITEMS]
    counts = Counter((v & 0xFFFFFFFF) >> low_bits for v in window) if low_bits else Counter(window)
    return {value for value, count in counts.items() if count <= 2}


def band_keys(values: Sequence[int], count: int = BANDS, low_bits: int = LOW_BITS) -> list[int]:
    """The ``count`` smallest shingle hashes: a track's bands (stored) or a query's keys."""
    mult, mask = _MULT, _MASK64  # _hash inlined: this runs for every ingest and every lookup
    return sorted([((m := (s * mult) & mask) ^ (m >> 32)) >> 1 for s in shingles(values, low_bits)])[:count]


def query_keys(values: Sequence[int]) -> list[int]:
    """The keys a lookup searches for (more than a stored track keeps; see the module docstring)."""
    return band_keys(values, QUERY_BANDS)
