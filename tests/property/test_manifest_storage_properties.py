"""What the manifest parser accepts from a peer, SQLite stores and gives back unchanged.

A manifest that parses but cannot be stored would fail its whole fetch wave on every
retry, jamming the queue for every other peer's tracks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from core.errors import IntegrityError
from core.federation.manifest import manifest_for, sign, track_from_manifest
from storage.sqlite.database import Database
from storage.sqlite.track_repository import SqliteTrackRepository
from tests.property.strategies import PROPERTY_SETTINGS, json_values
from tests.property.test_manifest_properties import SIGNER, _sample, _wire

FIELDS = [
    "title",
    "artist",
    "genre",
    "tags",
    "prompt",
    "style",
    "lyrics",
    "generator",
    "generator_song_id",
    "source_url",
    "media_type",
    "verdict_reason",
    "evidence",
    "quality",
    "sharer",
    "track_id",
    "cid",
]


@pytest.fixture
async def tracks(tmp_path: Path) -> AsyncIterator[SqliteTrackRepository]:
    db = await Database.open(tmp_path / "tracks.sqlite3")
    yield SqliteTrackRepository(db)
    await db.close()


@PROPERTY_SETTINGS
@given(st.dictionaries(st.sampled_from(FIELDS), json_values, min_size=1, max_size=3))
@example({"artist": ["a list"]})
@example({"genre": {"a": "table"}})
@example({"quality": {"integrated_lufs": "loud"}})
async def test_an_accepted_manifest_is_stored_and_read_back(
    tracks: SqliteTrackRepository, changes: dict[str, Any]
) -> None:
    manifest = {**_wire(sign(manifest_for(_sample(), [], "o"), SIGNER)), **changes}
    try:
        track = track_from_manifest(manifest)
    except IntegrityError:
        return
    if await tracks.get(track.id) is not None:
        return  # the same id drawn twice
    await tracks.add(track)
    assert await tracks.get(track.id) == track
