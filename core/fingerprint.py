"""Near-duplicate detection on Chromaprint raw fingerprints.

Similarity is 1 − bit error rate at the best alignment, searched over ±10 s (about
8 fingerprint items a second). Re-encodes and short trims score ≥ 0.97, different
tracks about 0.6 (measured, see docs/FACTS.md); the threshold comes from config.
"""

from __future__ import annotations

import array
import sys
from collections.abc import Sequence

ITEMS_PER_SECOND = 8.0  # Chromaprint's default: one 32-bit item every ~0.124 s
MAX_OFFSET_ITEMS = int(10 * ITEMS_PER_SECOND)
MIN_OVERLAP = 16
COARSE_ITEMS = 128  # ~16 s: the window the offset search scores


def _packed(values: Sequence[int]) -> int:
    """The items as one big integer, item ``i`` in bits ``32*i .. 32*i+31``."""
    packed = array.array("I", [v & 0xFFFFFFFF for v in values])
    if packed.itemsize != 4:  # pragma: no cover - every platform we run on has 4-byte unsigned int
        packed = array.array("L", packed)
    return int.from_bytes(packed.tobytes(), sys.byteorder)


def _score_at(big_a: int, big_b: int, len_a: int, len_b: int, offset: int) -> float:
    """1 − bit error rate when ``b`` is shifted by ``offset`` items (0.0 under MIN_OVERLAP)."""
    start_a, start_b = max(0, offset), max(0, -offset)
    length = min(len_a - start_a, len_b - start_b)
    if length < MIN_OVERLAP:
        return 0.0
    mask = (1 << (32 * length)) - 1
    errors = (((big_a >> (32 * start_a)) ^ (big_b >> (32 * start_b))) & mask).bit_count()
    return 1.0 - errors / (32.0 * length)


def _best_offsets(a: Sequence[int], b: Sequence[int], max_offset: int, top: int = 3) -> list[int]:
    """The offsets that score best on a short window (``COARSE_ITEMS`` from the start of the overlap).

    At the true offset of near-identical audio the window's error rate is a few percent,
    elsewhere about half, so a 16 s window finds the offset at a tenth of the cost.
    """
    span = COARSE_ITEMS + max_offset
    big_a, big_b = _packed(a[:span]), _packed(b[:span])
    len_a, len_b = min(len(a), span), min(len(b), span)
    scored = []
    for offset in range(-max_offset, max_offset + 1):
        start_a, start_b = max(0, offset), max(0, -offset)
        length = min(len_a - start_a, len_b - start_b, COARSE_ITEMS)
        if length < MIN_OVERLAP:
            continue
        mask = (1 << (32 * length)) - 1
        errors = (((big_a >> (32 * start_a)) ^ (big_b >> (32 * start_b))) & mask).bit_count()
        scored.append((errors / length, offset))
    return [offset for _, offset in sorted(scored)[:top]]


def similarity(
    a: Sequence[int], b: Sequence[int], max_offset: int = MAX_OFFSET_ITEMS, exhaustive: bool = False
) -> float:
    """1 − bit error rate at the best offset within ±``max_offset`` items (0.0 when too short).

    The items are packed into two big integers, so one offset costs a shift, a mask, an
    XOR and a popcount done in C. The offset is found on a short window first; only the
    best few (and their neighbours) are scored over the whole overlap. ``exhaustive``
    scores every offset over the whole overlap (the reference the fast path is checked against).
    """
    if len(a) < MIN_OVERLAP or len(b) < MIN_OVERLAP:
        return 0.0
    big_a, big_b = _packed(a), _packed(b)
    if exhaustive:
        offsets: set[int] = set(range(-max_offset, max_offset + 1))
    else:
        offsets = set()
        for best in _best_offsets(a, b, max_offset):
            offsets.update(o for o in (best - 1, best, best + 1) if -max_offset <= o <= max_offset)
    return max((_score_at(big_a, big_b, len(a), len(b), offset) for offset in offsets), default=0.0)


def bucket_keys(values: Sequence[int], modulus: int = 4) -> list[int]:
    """Coarse keys for finding candidates without comparing every stored fingerprint.

    The top 16 bits of each item in the first minute, kept only when divisible by
    ``modulus``: chosen by value, not position, so a trimmed or shifted copy yields the
    same keys. A re-encode keeps most items' top bits, so it shares many keys.
    """
    window = values[: int(60 * ITEMS_PER_SECOND)]
    keys = {(value & 0xFFFFFFFF) >> 16 for value in window}
    return sorted(key for key in keys if key % modulus == 0)
