"""Fingerprints stored before the near-duplicate index are indexed behind the running instance."""

from __future__ import annotations

import random
from pathlib import Path

from bots.runtime import catch_up_near_dup_index
from core.model import Fingerprint
from storage.sqlite.bot_state import BotState
from storage.sqlite.database import Database
from storage.sqlite.near_dup_index import SqliteNearDuplicateIndex
from storage.sqlite.track_repository import SqliteTrackRepository
from tests.support.factories import make_track, member


async def test_stored_fingerprints_are_indexed_once_in_batches(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        tracks = SqliteTrackRepository(db)
        rng = random.Random(7)
        for n in range(7):  # stored with their fingerprints, as before the index existed
            values = tuple(rng.getrandbits(32) for _ in range(120))
            await tracks.add(make_track(member(f"m{n}"), f"song {n}"), fingerprint=Fingerprint(values, 15.0))
        async with db.transaction():  # as after the upgrade that added the index: nothing indexed yet
            await db.execute("DELETE FROM near_dup_bands")
            await db.execute("DELETE FROM near_dup_docs")
        index = SqliteNearDuplicateIndex(db)
        assert await index.count() == 0
        assert await catch_up_near_dup_index(db) == 7
        assert await index.count() == 7
        assert await BotState(db).get("storage", "near_dup_backfilled") == "1"
        assert await catch_up_near_dup_index(db) == 0  # once
    finally:
        await db.close()
