"""The packed band table finds exactly the docs holding a band, whatever the bands' spread."""

from __future__ import annotations

import random

from storage.sqlite.near_dup_bands import PackedBands, SortedPairs, pack


def _rows(rng: random.Random, docs: int) -> list[tuple[int, int]]:
    rows: set[tuple[int, int]] = set()
    shared = [rng.getrandbits(63) for _ in range(20)]  # bands many docs hold
    for doc in range(1, docs + 1):
        for _ in range(32):  # bottom-k bands crowd the low end of the range, a few do not
            band = rng.getrandbits(58) if rng.random() < 0.95 else rng.getrandbits(63)
            rows.add((band, doc))
        rows.add((rng.choice(shared), doc))
    rows.add((0, 1))
    rows.add(((1 << 63) - 1, 2))
    return sorted(rows)


def _expected(rows: list[tuple[int, int]]) -> dict[int, list[int]]:
    postings: dict[int, list[int]] = {}
    for band, doc in rows:
        postings.setdefault(band, []).append(doc)
    return postings


def test_every_band_finds_its_docs_and_absent_bands_find_none() -> None:
    rng = random.Random(3)
    rows = _rows(rng, 2_000)
    packed = pack([rows[:1000], rows[1000:5000], rows[5000:]])  # chunks split runs anywhere
    assert packed.rows == len(rows)
    for band, docs in _expected(rows).items():
        assert sorted(packed.docs_with(band)) == docs
    stored = {band >> 16 for band, _ in rows}  # bits 0..15 are not kept
    for _ in range(2_000):
        band = rng.getrandbits(63)
        if band >> 16 not in stored:
            assert list(packed.docs_with(band)) == []


def test_packing_costs_about_eight_bytes_a_row() -> None:
    rows = _rows(random.Random(4), 5_000)
    packed = pack([rows])
    assert packed.nbytes < 8.5 * packed.rows


def test_rows_out_of_order_or_docs_too_large_are_refused() -> None:
    for bad in ([(5, 1), (3, 1)], [(1, 1 << 32)], [(-1, 1)]):
        try:
            pack([bad[:1], bad[1:]] if len(bad) > 1 else [bad])
        except ValueError:
            continue
        raise AssertionError(f"{bad} was packed")


def test_an_empty_table_packs_to_nothing() -> None:
    packed = pack([])
    assert isinstance(packed, PackedBands) and packed.rows == 0
    assert list(packed.docs_with(12345)) == []


def test_sorted_pairs_merge_keeps_order_and_every_doc() -> None:
    rng = random.Random(5)
    pairs = SortedPairs()
    expected: dict[int, list[int]] = {}
    for batch in range(20):
        new = sorted((rng.getrandbits(20), batch * 100 + n) for n in range(50))
        pairs = pairs.merged(new)
        for band, doc in new:
            expected.setdefault(band, []).append(doc)
    assert list(pairs.bands) == sorted(pairs.bands) and len(pairs) == 1000
    for band, docs in expected.items():
        assert sorted(pairs.docs_with(band)) == sorted(docs)
