"""The web page's read port (``WebCatalog``), against SQLite and the in-memory stores."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.federation.ports import Peer
from core.model import Cid, TrackStatus, Verdict
from core.voting_model import RoundRules
from storage.memory import MemoryKeyValue, MemoryTrackRepository, MemoryVotingRepository
from storage.memory_federation import MemoryFederationStore
from storage.memory_web_catalog import MemoryWebCatalog
from storage.sqlite.bot_state import BotState
from storage.sqlite.database import Database
from storage.sqlite.federation_store import SqliteFederationStore
from storage.sqlite.track_repository import SqliteTrackRepository
from storage.sqlite.voting_repository import SqliteVotingRepository
from storage.sqlite.web_catalog import SqliteWebCatalog
from tests.support.factories import make_track, member

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@dataclass
class Stores:
    catalog: Any
    tracks: Any
    voting: Any
    state: Any
    federation: Any


@pytest.fixture(params=["sqlite", "memory"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    if request.param == "memory":
        tracks, voting, state = MemoryTrackRepository(), MemoryVotingRepository(), MemoryKeyValue()
        federation = MemoryFederationStore(tracks)
        yield Stores(MemoryWebCatalog(tracks, voting, state, federation), tracks, voting, state, federation)
        return
    db = await Database.open(tmp_path / "db.sqlite3")
    yield Stores(
        SqliteWebCatalog(db),
        SqliteTrackRepository(db),
        SqliteVotingRepository(db),
        BotState(db),
        SqliteFederationStore(db),
    )
    await db.close()


async def test_public_recent_lists_only_accepted_active_tracks_newest_first(stores: Stores) -> None:
    alice = member("alice")
    old = make_track(alice, "Old", when=T0)
    new = make_track(alice, "New", when=T0 + timedelta(hours=2))
    lofi = make_track(alice, "Lofi", genre="lofi", verdict=Verdict.VERIFIED, when=T0 + timedelta(hours=1))
    waiting = make_track(alice, "Waiting", verdict=Verdict.QUARANTINED, when=T0 + timedelta(hours=3))
    gone = make_track(alice, "Gone", when=T0 + timedelta(hours=4))
    for track in (old, new, lofi, waiting, gone):
        await stores.tracks.add(track)
    await stores.tracks.set_status(gone.id, TrackStatus.TAKEN_DOWN)
    assert [t.title for t in await stores.catalog.public_recent(10)] == ["New", "Lofi", "Old"]
    assert [t.title for t in await stores.catalog.public_recent(1)] == ["New"]
    assert [t.title for t in await stores.catalog.public_recent(10, genre="synthwave")] == ["New", "Old"]
    listed = (await stores.catalog.public_recent(10, genre="lofi"))[0]
    assert (listed.id, listed.cid, listed.size, listed.media_type, listed.sharer) == (
        lofi.id,
        lofi.cid,
        lofi.size,
        lofi.media_type,
        lofi.sharer,
    )
    assert await stores.catalog.verdict_counts() == {"declared": 2, "verified": 1, "quarantined": 1}


async def test_digests_newest_first_with_a_limit(stores: Stores) -> None:
    for weeks in range(3):
        week = T0 + timedelta(days=7 * weeks)
        await stores.state.put("digest", f"week:{week.isoformat()}", json.dumps({"title": f"w{weeks}", "data": {}}))
    await stores.state.put("digest", "last_published_due", T0.isoformat())  # not a digest
    found = await stores.catalog.digests(2)
    assert [(when, body["title"]) for when, body in found] == [
        (T0 + timedelta(days=14), "w2"),
        (T0 + timedelta(days=7), "w1"),
    ]


async def test_rounds_of_a_track_and_peers_holding_its_bytes(stores: Stores) -> None:
    alice, mod = member("alice"), member("mod")
    track = make_track(alice, "Entered")
    await stores.tracks.add(track)
    for theme in ("One", "Two"):
        rnd = await stores.voting.create_round(
            RoundRules(theme=theme), mod, T0, T0 + timedelta(days=1), T0 + timedelta(days=2), "room"
        )
        if theme == "Two":
            await stores.voting.add_entry(rnd.id, make_track(alice).id, alice, T0)
        await stores.voting.add_entry(rnd.id, track.id, alice, T0)
    assert list(await stores.catalog.rounds_of(track.id)) == [(2, 2), (1, 1)]

    assert list(await stores.catalog.holders(track.cid)) == []
    for instance, name in (("wp-a", "Alpha"), ("wp-b", "Beta"), ("wp-c", "Gamma")):
        await stores.federation.upsert_peer(Peer(instance, f"@{name}:hs", "key", name), T0)
    await stores.federation.add_source(Cid(track.cid), {"instance": "wp-b", "mxc": "mxc://hs/1"})
    await stores.federation.save_manifest(track.id, Cid(track.cid), "wp-a", {"cid": track.cid}, None)
    assert list(await stores.catalog.holders(track.cid)) == ["Alpha", "Beta"]
