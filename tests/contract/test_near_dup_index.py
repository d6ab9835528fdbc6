"""One suite over every ``NearDuplicateIndex``: real re-encodes are found, distinct tracks are not, deletes work.

The fingerprints are real: generated recordings and their re-encodes (MP3 96/320 kb/s,
AAC, Opus, trims of 1 and 2 s, +-6 dB) through fpcalc, made once per test session.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import storage.sqlite.near_dup_bands as near_dup_bands
from core.model import Fingerprint, TrackId
from core.provenance_ports import NearDuplicateIndex
from core.services.near_duplicates import score_candidates
from storage.memory_provenance import MemoryNearDuplicateIndex
from storage.sqlite.database import Database
from storage.sqlite.near_dup_index import SqliteNearDuplicateIndex
from tests.support.audio import make_long_mp3, make_mp3
from tests.support.reencodes import VARIANTS, fpcalc, variant_fingerprints

pytestmark = pytest.mark.skipif(
    shutil.which("fpcalc") is None or shutil.which("ffmpeg") is None, reason="ffmpeg and fpcalc are needed"
)

THRESHOLD = 0.85
ORIGINALS = 3
DISTINCT = 5


@pytest.fixture(scope="module")
def prints() -> dict[str, list[dict[str, list[int]]]]:
    """Originals with their variants, and distinct other tracks (some of the same kind of audio)."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        originals = [
            variant_fingerprints(make_mp3(work / f"o{seed}.mp3", 14, 500 + seed), work) for seed in range(ORIGINALS)
        ]
        distinct = [{"base": fpcalc(make_mp3(work / f"d{seed}.mp3", 14, 900 + seed))} for seed in range(DISTINCT - 1)]
        distinct.append({"base": fpcalc(make_long_mp3(work / "chords.mp3", 14, 77))})
    return {"originals": originals, "distinct": distinct}


@pytest.fixture(params=["memory", "sqlite", "sqlite-bands-in-memory"])
async def index(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[NearDuplicateIndex]:
    if request.param == "memory":
        yield MemoryNearDuplicateIndex()
        return
    db = await Database.open(tmp_path / "index.sqlite3")
    try:
        index = SqliteNearDuplicateIndex(db)
        if request.param == "sqlite-bands-in-memory":  # loaded at start, as an instance does
            monkeypatch.setattr(near_dup_bands, "RECENT_MAX", 2)  # changes fold into sorted arrays too
            await index.warm()
        yield index
        index.close()
    finally:
        await db.close()


def _fp(values: list[int]) -> Fingerprint:
    return Fingerprint(tuple(values), len(values) / 8.0)


async def _matches(index: NearDuplicateIndex, values: list[int]) -> list[tuple[TrackId, float]]:
    query = _fp(values)
    candidates = await index.candidates(query)
    return await score_candidates(query, [(c.track_id, c.fingerprint) for c in candidates], THRESHOLD)


async def test_every_reencode_finds_its_original_and_nothing_else(
    index: NearDuplicateIndex, prints: dict[str, list[dict[str, list[int]]]]
) -> None:
    for number, original in enumerate(prints["originals"]):
        await index.add(TrackId(f"orig{number}"), _fp(original["base"]))
    for number, other in enumerate(prints["distinct"]):
        await index.add(TrackId(f"other{number}"), _fp(other["base"]))
    assert await index.count() == ORIGINALS + DISTINCT
    for number, original in enumerate(prints["originals"]):
        for name in VARIANTS:
            found = await _matches(index, original[name])
            assert [track for track, _ in found] == [f"orig{number}"], (name, found)


async def test_distinct_tracks_do_not_match(
    index: NearDuplicateIndex, prints: dict[str, list[dict[str, list[int]]]]
) -> None:
    for number, original in enumerate(prints["originals"]):
        await index.add(TrackId(f"orig{number}"), _fp(original["base"]))
    for other in prints["distinct"]:
        assert await _matches(index, other["base"]) == []


async def test_a_removed_track_is_no_longer_found_and_can_be_indexed_again(
    index: NearDuplicateIndex, prints: dict[str, list[dict[str, list[int]]]]
) -> None:
    first, second = prints["originals"][0], prints["originals"][1]
    await index.add(TrackId("a"), _fp(first["base"]))
    await index.add(TrackId("b"), _fp(second["base"]))
    await index.remove(TrackId("a"))
    await index.remove(TrackId("never-indexed"))  # a no-op, not an error
    assert await index.count() == 1
    assert await _matches(index, first["mp3-96"]) == []
    assert [t for t, _ in await _matches(index, second["mp3-96"])] == ["b"]
    await index.add(TrackId("a"), _fp(first["base"]))
    await index.add(TrackId("a"), _fp(first["base"]))  # re-indexing replaces, never duplicates
    assert await index.count() == 2
    assert [t for t, _ in await _matches(index, first["aac-128"])] == ["a"]


async def test_reindexing_with_another_fingerprint_forgets_the_old_sound(
    index: NearDuplicateIndex, prints: dict[str, list[dict[str, list[int]]]]
) -> None:
    first, second = prints["originals"][0], prints["originals"][1]
    await index.add(TrackId("a"), _fp(first["base"]))
    await index.add(TrackId("a"), _fp(second["base"]))
    assert await _matches(index, first["mp3-96"]) == []
    assert [t for t, _ in await _matches(index, second["mp3-96"])] == ["a"]


async def test_sqlite_delete_leaves_no_band_rows_behind(
    tmp_path: Path, prints: dict[str, list[dict[str, list[int]]]]
) -> None:
    db = await Database.open(tmp_path / "index.sqlite3")
    try:
        index = SqliteNearDuplicateIndex(db)
        for number, original in enumerate(prints["originals"]):
            await index.add(TrackId(f"t{number}"), _fp(original["base"]))
        await index.add(TrackId("t0"), _fp(prints["distinct"][0]["base"]))  # re-indexed with other bands
        for number in range(len(prints["originals"])):
            await index.remove(TrackId(f"t{number}"))
        await index.sweep()  # the band rows of deleted docs go in the background; this waits for them
        bands = await db.fetchone("SELECT count(*) FROM near_dup_bands")
        docs = await db.fetchone("SELECT count(*) FROM near_dup_docs")
        assert (bands[0], docs[0]) == (0, 0)
        index.close()
    finally:
        await db.close()


async def test_sqlite_fingerprint_copy_fits_one_page(tmp_path: Path) -> None:
    """A candidate's copy is one page read: no overflow page, even for a long track."""
    db = await Database.open(tmp_path / "index.sqlite3")
    try:
        index = SqliteNearDuplicateIndex(db)
        five_minutes = [(n * 2654435761) & 0xFFFFFFFF for n in range(5 * 60 * 8)]
        for number in range(20):
            await index.add(TrackId(f"{number:016x}"), _fp(five_minutes[number:]))
        row = await db.fetchone("SELECT count(*) FROM dbstat WHERE name = 'near_dup_docs' AND pagetype = 'overflow'")
        assert row is not None and row[0] == 0
        index.close()
    finally:
        await db.close()
