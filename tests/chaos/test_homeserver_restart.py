"""The homeserver is killed (SIGKILL) and restarted under running instances: during replication,
and while a round's voting announcements and results are being posted. Afterwards every track,
entry card and vote is there exactly once, and the instances serve on without a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.model import Share, Sharer
from core.voting_model import RoundRules
from storage.sqlite.federation_store import SqliteFederationStore
from tests.chaos.homeserver_faults import kill, restart
from tests.integration.test_matrix_bot import PARTS, Room, _ready
from tests.support.factories import make_track
from tests.support.federation import federation_room, publish_fast
from tests.support.homeserver import Homeserver
from tests.support.instances import running
from tests.support.waiting import eventually


@pytest.fixture
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Homeserver]:
    server = Homeserver.start(tmp_path_factory.mktemp("synapse-chaos"), max_upload="5M")
    yield server
    server.stop()


async def test_replication_survives_a_homeserver_crash(synapse: Homeserver, tmp_path: Path) -> None:
    _room, configs, _owner = federation_room(synapse, tmp_path, "ab")
    async with running(configs["a"]) as a, running(configs["b"]) as b:
        before = await publish_fast(a, 3, tmp_path)

        async def has(ids: list[str]) -> bool:
            return all([await b.instance.app.tracks.get(i) is not None for i in ids])

        await eventually(lambda: has(before), 60, "the first tracks on b")
        await asyncio.to_thread(kill, synapse)
        during = await publish_fast(a, 10, tmp_path)  # published while the homeserver is gone
        await asyncio.to_thread(restart, synapse)
        await eventually(lambda: has(during), 180, "the tracks published during the outage on b")
        after = await publish_fast(a, 2, tmp_path)  # and it keeps serving
        await eventually(lambda: has(after), 120, "a track published after the restart on b")

        assert await b.instance.app.tracks.count() == 15  # nothing lost, nothing twice
        for track_id in before + during + after:
            copy = await b.instance.app.tracks.get(track_id)
            assert copy is not None and await b.instance.app.pool.has(copy.cid)
        assert not await SqliteFederationStore(a.instance.db).outbox_pending(1)
        manifests = await a.instance.db.fetchone("SELECT count(*) FROM fed_manifests WHERE event_id IS NOT NULL")
        assert manifests is not None and manifests[0] == 15  # each published once


async def test_round_posts_and_votes_survive_a_homeserver_crash(synapse: Homeserver, tmp_path: Path) -> None:
    room = Room(synapse, tmp_path)
    async with running(room.config, PARTS) as run:
        await _ready(room, run)
        voting = run.instance.app.voting
        assert voting is not None
        mod = Sharer("matrix", room.mod, "Mod")
        rnd = await voting.start(RoundRules(theme="Crash"), mod, room.room, timedelta(hours=1), timedelta(hours=1))
        for who in (room.alice, room.bob):
            sharer = Sharer("matrix", who, who)
            track = make_track(sharer, f"entry of {who}")
            await run.instance.app.tracks.add(track, Share(track.id, sharer, track.first_seen_at, room.room))
            await voting.submit(str(rnd.id), track.id, sharer)
        await room.bot_says("is open for submissions")

        await asyncio.to_thread(kill, synapse)
        await voting.close_phase(str(rnd.id), mod)  # voting opens: its announcement and entry cards are owed
        await asyncio.to_thread(restart, synapse)
        first = await room.bot_says("Entry 1 by", timeout_s=180)
        second = await room.bot_says("Entry 2 by", timeout_s=60)

        room.hs.react(room.bob_token, room.room, first["event_id"], "👍")  # bob votes for alice's entry
        room.hs.react(room.alice_token, room.room, second["event_id"], "👍")

        async def two_votes() -> bool:
            return len(await voting.ballots(await voting.get(str(rnd.id)))) == 2

        await eventually(two_votes, 60, "both votes counted")
        await asyncio.to_thread(kill, synapse)
        await voting.close_phase(str(rnd.id), mod)  # results are owed while the homeserver is down
        await asyncio.to_thread(restart, synapse)
        await room.bot_says("Results: round #1", timeout_s=180)

        bodies = [m["content"].get("body", "") for m in room.bot_messages()]
        for words in ("Voting is open", "Entry 1 by", "Entry 2 by", "Results: round #1"):
            assert sum(words in b for b in bodies) == 1, (words, bodies)  # posted once, not again on retry
        ballots = await voting.ballots(await voting.get(str(rnd.id)))
        assert sorted((b.voter.user_id, b.entry) for b in ballots) == sorted([(room.bob, 1), (room.alice, 2)])
        status = await room.reply_to(room.say(room.alice_token, "!wp round status 1"))  # serving on
        assert "Crash" in status["content"]["body"]
