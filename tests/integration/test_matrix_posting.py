"""A big community's posts through matrix-nio to a real Synapse, which refuses events over 64 KiB.

A 120-track digest and a 25-entry round go out as a headline with ``m.thread`` replies;
every track and entry is voted on by reacting to its own event. Property test: replies
of any size and script, sent as planned, are all accepted by Synapse.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bots.matrix import render
from bots.matrix.posting import post_plan
from core.commands.declaration import Post
from core.model import Sharer, Track
from core.views.digest import digest_reply as word_digest
from tests.support.community import seed_round, seed_week, sharer
from tests.support.homeserver import Homeserver
from tests.support.instances import Running, eventually, running, write_config
from tests.support.replies import Community, communities, digest_reply, member_text, results_reply

PARTS = ("bots.matrix.part",)
BATCH = 30
pytestmark = pytest.mark.synapse


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Homeserver]:
    server = Homeserver.start(tmp_path_factory.mktemp("synapse-posting"))
    yield server
    server.stop()


class Room:
    """A room with the bot, a moderator and a member."""

    def __init__(self, hs: Homeserver, tmp: Path) -> None:
        tag = str(time.monotonic_ns())[-6:]
        self.hs = hs
        self.bot, self.bot_token = hs.register(f"bot{tag}")
        self.mod, self.mod_token = hs.register(f"mod{tag}")
        self.alice, self.alice_token = hs.register(f"alice{tag}")
        self.room = hs.create_room(self.mod_token, invite=[self.bot], name="music", power={self.bot: 50})
        hs.join(self.alice_token, self.room)
        self.config = write_config(
            tmp / "bot.toml",
            tmp / "data",
            matrix={"homeserver": hs.url, "user_id": self.bot, "access_token": self.bot_token},
            genres={"default_matrix_room": self.room},
            voting={"round_matrix_room": self.room},
            digest={"matrix_room": self.room, "top_n": 120},
        )

    def bot_events(self) -> list[dict[str, Any]]:
        """The bot's messages, oldest first."""
        return [
            e
            for e in reversed(self.hs.messages(self.mod_token, self.room, 1000))
            if e["sender"] == self.bot and e["type"] == "m.room.message"
        ]

    async def started(self) -> None:
        """The bot has joined and answers live commands (so it will see reactions)."""

        async def joined() -> bool:
            members = self.hs.call("GET", f"/_matrix/client/v3/rooms/{self.room}/joined_members", self.mod_token)
            return self.bot in members["joined"]

        await eventually(joined, 30, "the bot to join")
        asked = self.hs.text(self.alice_token, self.room, "!wp help")

        async def answered() -> bool:
            return any(
                (e["content"].get("m.relates_to") or {}).get("m.in_reply_to", {}).get("event_id") == asked
                for e in self.bot_events()
            )

        await eventually(answered, 30, "the bot to answer")


@pytest.fixture
def room(synapse: Homeserver, tmp_path: Path) -> Room:
    return Room(synapse, tmp_path)


def _thread(events: list[dict[str, Any]], root: str) -> list[dict[str, Any]]:
    return [
        e
        for e in events
        if (e["content"].get("m.relates_to") or {}).get("rel_type") == "m.thread"
        and e["content"]["m.relates_to"]["event_id"] == root
    ]


async def _announce(run: Running, post: Post) -> None:
    assert run.parts.matrix is not None and run.parts.matrix.bot is not None
    await run.parts.matrix.bot.announce(post)


async def test_a_120_track_digest_is_threaded_and_every_track_votable_by_reaction(room: Room) -> None:
    async with running(room.config, PARTS) as run:
        await room.started()
        app = run.instance.app
        assert app.digest is not None and app.voting is not None
        members = [sharer("matrix", f"member{i}") for i in range(40)]
        tracks = await seed_week(app, members, Sharer("matrix", "@curator:localhost", "Curator"))
        before = len(room.bot_events())
        await _announce(run, Post("digest", word_digest(await app.digest.build())))
        events = room.bot_events()[before:]
        headline = events[0]
        thread = _thread(events, headline["event_id"])
        assert len(thread) == len(events) - 1 >= 120
        for track in tracks:
            assert sum(track.cid in e["content"]["formatted_body"] for e in thread) == 1, track.title
        # in batches: the bot's sync filter takes at most 100 timeline events per sync (see the report)
        for start in range(0, len(tracks), BATCH):
            batch = tracks[start : start + BATCH]
            for track in batch:
                holding = next(e for e in thread if track.cid in e["content"]["formatted_body"])
                room.hs.react(room.alice_token, room.room, holding["event_id"], "👍")

            async def voted(batch: list[Track] = batch) -> bool:
                votes = await app.voting.track_votes([t.id for t in batch])
                return all(votes.get(t.id) == 2 for t in batch)

            await eventually(voted, 60, f"a vote on tracks {start}-{start + len(batch)} from their reactions")


async def test_a_25_entry_round_is_votable_by_reaction_and_lists_every_standing(room: Room) -> None:
    async with running(room.config, PARTS) as run:
        await room.started()
        app = run.instance.app
        assert app.voting is not None
        moderator = Sharer("matrix", room.mod, "Mod")
        before = len(room.bot_events())
        rnd = await seed_round(app, [sharer("matrix", f"entrant{i}") for i in range(25)], moderator, room.room)

        async def announced() -> bool:
            return sum("— entry" in e["content"]["body"] for e in room.bot_events()[before:]) == 25

        await eventually(announced, 60, "the 25 entries")
        for event in room.bot_events()[before:]:
            if "— entry" in event["content"]["body"]:
                room.hs.react(room.alice_token, room.room, event["event_id"], "4️⃣")

        async def ballots() -> bool:
            return len(await app.voting._repo.ballots(rnd.id)) == 25

        await eventually(ballots, 60, "a ballot for every entry")
        before = len(room.bot_events())
        await app.voting.close_phase(str(rnd.id), moderator)

        async def results() -> bool:
            return any("Results: round" in e["content"]["body"] for e in room.bot_events()[before:])

        await eventually(results, 60, "the results")

        async def every_standing() -> bool:  # the thread follows its headline in the same delivery
            events = room.bot_events()[before:]
            headline = next(e for e in events if "Results: round" in e["content"]["body"])
            body = "".join(e["content"]["body"] for e in [headline, *_thread(events, headline["event_id"])])
            return all(f"Entrant{i} " in body for i in range(25))

        await eventually(every_standing, 60, "every standing in the results and its thread")


async def test_a_retried_delivery_reuses_its_transaction_ids(room: Room) -> None:
    async with running(room.config, PARTS) as run:
        await room.started()
        app = run.instance.app
        await seed_week(app, [sharer("matrix", "member")], Sharer("matrix", "@curator:localhost", "Curator"), 12)
        assert app.digest is not None
        laid_out = render.plan(word_digest(await app.digest.build()))
        client = run.parts.matrix.bot.client
        first = await post_plan(client, room.room, laid_out, key="digest:2026-11-30")
        again = await post_plan(client, room.room, laid_out, key="digest:2026-11-30")
        assert first == again and len(first) == len(laid_out.messages) > 1


def test_synapse_refuses_an_event_over_64_kib(synapse: Homeserver) -> None:
    """The control: the homeserver really enforces the limit the renderer keeps to."""
    _, token = synapse.register(f"big{time.monotonic_ns() % 10**6}")
    room_id = synapse.create_room(token)
    with pytest.raises(RuntimeError, match="413|too large|M_TOO_LARGE"):
        synapse.send(token, room_id, {"msgtype": "m.text", "body": "夜" * 22_000})


@settings(
    max_examples=5,
    deadline=None,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(communities(most=60), member_text(max_repeat=400), st.booleans())
def test_every_planned_event_is_accepted_by_synapse(
    synapse: Homeserver, community: Community, theme: str, digest: bool
) -> None:
    token = synapse.users.get("@planner:localhost") or synapse.register("planner")[1]
    room_id = synapse.create_room(token)
    reply = digest_reply(community.tracks, theme) if digest else results_reply(community.tracks, theme)
    laid_out = render.plan(reply)
    ids: list[str] = []
    for message in laid_out.messages:
        content = dict(message.content)
        if ids:
            content["m.relates_to"] = render.thread_relation(ids[0], ids[-1])
        ids.append(synapse.send(token, room_id, content))  # raises on Synapse's 413
