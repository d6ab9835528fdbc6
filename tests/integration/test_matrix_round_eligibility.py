"""Age- and role-gated rounds on Matrix, against a real Synapse: a member's age is their room
membership's age, their roles come from the room's power levels (docs/RELIABILITY.md)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.model import Share, Sharer
from tests.integration.test_matrix_bot import PARTS, Room, _ready
from tests.support.factories import make_track
from tests.support.homeserver import Homeserver
from tests.support.instances import running
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Homeserver]:
    server = Homeserver.start(tmp_path_factory.mktemp("synapse-gates"), max_upload="5M")
    yield server
    server.stop()


async def test_matrix_members_have_an_age_and_roles_for_gated_rounds(synapse: Homeserver, tmp_path: Path) -> None:
    room = Room(synapse, tmp_path)
    joined_at = time.time()
    async with running(room.config, PARTS) as run:
        await _ready(room, run)
        tracks = {}
        for who in (room.mod, room.alice):
            track = make_track(Sharer("matrix", who, who), f"track of {who}")
            await run.instance.app.tracks.add(
                track, Share(track.id, Sharer("matrix", who, who), track.first_seen_at, room.room)
            )
            tracks[who] = track.id

        started = await room.reply_to(room.say(room.mod_token, '!wp round start "Mods only" --role moderator'))
        assert "Round #1" in started["content"]["body"], started
        refused = await room.reply_to(room.say(room.alice_token, f"!wp round submit 1 {tracks[room.alice]}"))
        assert "role moderator" in refused["content"]["body"]
        entered = await room.reply_to(room.say(room.mod_token, f"!wp round submit 1 {tracks[room.mod]}"))
        assert "entry" in entered["content"]["body"].lower(), entered  # the room's creator is a moderator

        # 0.0002 days = 17.3 s of membership: refused at first, taken once the membership is that old
        await room.reply_to(room.say(room.mod_token, '!wp round start "Members of a while" --min-age-days 0.0002'))
        young = await room.reply_to(room.say(room.alice_token, f"!wp round submit 2 {tracks[room.alice]}"))
        if time.time() - joined_at < 17:  # a slow machine may already be past the mark
            assert "at least 0.0002 days" in young["content"]["body"], young
            assert "did not tell" not in young["content"]["body"]

        async def old_enough() -> bool:
            return time.time() - joined_at > 18.5

        await eventually(old_enough, 30, "alice's membership to be 18 s old")
        later = await room.reply_to(room.say(room.alice_token, f"!wp round submit 2 {tracks[room.alice]}"))
        assert "entry" in later["content"]["body"].lower(), later
        voting = run.instance.app.voting
        assert voting is not None
        assert [e.submitter.user_id for e in await voting.entries(await voting.get("2"))] == [room.alice]
