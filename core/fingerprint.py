"""Near-duplicate detection on Chromaprint raw fingerprints.

Similarity is 1 − bit error rate at the best alignment, searched over ±10 s (about
8 fingerprint items a second). Re-encodes and short trims score ≥ 0.97, different
tracks about 0.6 (measured, see docs/FACTS.md); the threshold comes from config.
"""

from __future__ import annotations

from collections.abc import Sequence

ITEMS_PER_SECOND = 8.0  # Chromaprint's default: one 32-bit item every ~0.124 s
MAX_OFFSET_ITEMS = int(10 * ITEMS_PER_SECOND)
MIN_OVERLAP = 16


def _bit_errors(a: Sequence[int], b: Sequence[int], offset: int) -> tuple[int, int]:
    """Differing bits and compared items when ``b`` is shifted by ``offset`` items."""
    start_a = max(0, offset)
    start_b = max(0, -offset)
    length = min(len(a) - start_a, len(b) - start_b)
    if length <= 0:
        return 0, 0
    errors = 0
    for index in range(length):
        errors += ((a[start_a + index] ^ b[start_b + index]) & 0xFFFFFFFF).bit_count()
    return errors, length


def similarity(a: Sequence[int], b: Sequence[int], max_offset: int = MAX_OFFSET_ITEMS) -> float:
    """1 − bit error rate at the best offset within ±``max_offset`` items (0.0 when too short)."""
    if len(a) < MIN_OVERLAP or len(b) < MIN_OVERLAP:
        return 0.0
    best = 0.0
    for offset in range(-max_offset, max_offset + 1):
        errors, length = _bit_errors(a, b, offset)
        if length < MIN_OVERLAP:
            continue
        score = 1.0 - errors / (32.0 * length)
        if score > best:
            best = score
    return best


def bucket_keys(values: Sequence[int], modulus: int = 4) -> list[int]:
    """Coarse keys for finding candidates without comparing every stored fingerprint.

    The top 16 bits of each item in the first minute, kept only when divisible by
    ``modulus``: chosen by value, not position, so a trimmed or shifted copy yields the
    same keys. A re-encode keeps most items' top bits, so it shares many keys.
    """
    window = values[: int(60 * ITEMS_PER_SECOND)]
    keys = {(value & 0xFFFFFFFF) >> 16 for value in window}
    return sorted(key for key in keys if key % modulus == 0)
