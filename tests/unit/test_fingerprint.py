"""Fingerprint comparison and LSH band keys (core.fingerprint, core.near_dup)."""

from __future__ import annotations

import random

from core.fingerprint import similarity
from core.near_dup import BANDS, band_keys, query_keys, shingles


def _noisy(values: list[int], rng: random.Random, flip: float) -> list[int]:
    """Each bit flipped with probability ``flip`` (a re-encode's bit errors)."""
    out = []
    for value in values:
        for bit in range(32):
            if rng.random() < flip:
                value ^= 1 << bit
        out.append(value)
    return out


def test_fast_similarity_equals_the_exhaustive_search_for_shifted_noisy_copies() -> None:
    rng = random.Random(7)
    for trial in range(12):
        original = [rng.getrandbits(32) for _ in range(rng.randrange(200, 1000))]
        shift = rng.randrange(0, 60)
        copy = _noisy(original[shift:], rng, 0.03) if trial % 2 else _noisy(original, rng, 0.05)[:500]
        fast, full = similarity(original, copy), similarity(original, copy, exhaustive=True)
        assert fast == full and fast > 0.9, (trial, fast, full)
        assert similarity(copy, original) == similarity(copy, original, exhaustive=True)


def test_fast_similarity_never_exceeds_the_exhaustive_one_for_unrelated_tracks() -> None:
    rng = random.Random(8)
    for _ in range(6):
        a = [rng.getrandbits(32) for _ in range(800)]
        b = [rng.getrandbits(32) for _ in range(700)]
        fast, full = similarity(a, b), similarity(a, b, exhaustive=True)
        assert fast <= full < 0.7


def test_too_short_fingerprints_are_not_similar() -> None:
    assert similarity([1] * 10, [1] * 10) == 0.0


def test_band_keys_do_not_depend_on_position_and_skip_repeated_items() -> None:
    rng = random.Random(9)
    values = [rng.getrandbits(32) for _ in range(900)]
    bands = band_keys(values)
    assert len(bands) == BANDS and bands == sorted(bands) and all(0 <= b < 2**63 for b in bands)
    trimmed = values[16:]  # two seconds cut from the start
    assert len(set(bands) & set(query_keys(trimmed))) >= BANDS * 3 // 4
    steady = [5] * 50 + values[:100]
    assert 5 not in shingles(steady) and len(shingles(steady)) == 100
