"""A big community's posts through the real discord.py client and the limit-enforcing Discord fake.

A 120-track digest and a 25-entry round go out as headline messages with threads; every
track and entry is voted on by pressing its button in the posts, and the fake refuses
anything over Discord's limits, so a single over-long payload fails the test.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bots.discord.posting import post_plan
from bots.discord.render import plan
from core.commands.declaration import Post
from core.model import Sharer
from core.views.digest import digest_reply as word_digest
from tests.support.community import seed_round, seed_week, sharer
from tests.support.discord_fake import APP_ID, GUILD_ID, DiscordFake
from tests.support.discord_harness import discord_bot
from tests.support.instances import Running, eventually, write_config


@contextlib.asynccontextmanager
async def bot(fake: DiscordFake, tmp_path: Path) -> AsyncIterator[Running]:
    config = write_config(
        tmp_path / "bot.toml",
        tmp_path / "data",
        discord={"token": "fake-token", "application_id": APP_ID, "test_guild_id": GUILD_ID, "api_base": fake.base},
        genres={"default_discord_channel": fake.channels["synthwave"]},
        voting={"round_discord_channel": fake.channels["rounds"]},
        digest={"discord_channel": fake.channels["music"], "top_n": 120},
    )
    async with discord_bot(config) as run:
        yield run
    assert not fake.rejected, fake.rejected[:3]
    assert not fake.unknown, fake.unknown


def _buttons(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components") or [] for c in row["components"]]


def _posted(fake: DiscordFake, channel: str) -> list[dict[str, Any]]:
    """Messages in a channel, each followed by the messages of its thread."""
    out = []
    for message in fake.messages.get(fake.channels[channel], []):
        out.append(message)
        out += fake.thread_of(message["id"])
    return out


async def _press_all(fake: DiscordFake, messages: list[dict[str, Any]], wanted: set[str], user: str) -> int:
    pressed = 0
    for message in messages:
        for custom_id in _buttons(message):
            if custom_id in wanted:
                await fake.dispatch("INTERACTION_CREATE", fake.component_interaction(message, custom_id, user))
                pressed += 1
    return pressed


async def test_a_120_track_digest_goes_out_in_a_thread_and_every_track_is_votable(
    fake: DiscordFake, tmp_path: Path
) -> None:
    async with bot(fake, tmp_path) as run:
        app = run.instance.app
        members = [sharer("discord", f"member{i}") for i in range(40)]
        tracks = await seed_week(app, members, Sharer("discord", "curator", "Curator"))
        assert app.digest is not None and app.voting is not None
        reply = word_digest(await app.digest.build())
        await run.parts.discord.client.announce(Post("digest", reply))
        posted = _posted(fake, "music")
        headline = posted[0]
        assert headline["thread"]["parent_id"] == fake.channels["music"]
        assert len(fake.thread_of(headline["id"])) == len(posted) - 1 >= 12  # a message per genre at least
        wanted = {f"wp:vote:track:{t.id}:1" for t in tracks}
        assert sorted(c for m in posted for c in _buttons(m) if c in wanted) == sorted(wanted)  # each once
        cids = [
            f["value"] for m in posted for e in m["embeds"] for f in e.get("fields", []) if f["name"] == "Pool address"
        ]
        assert sorted(cids) == sorted(t.cid for t in tracks)
        followups_before = len(fake.sent("POST", f"/webhooks/{APP_ID}/"))
        assert await _press_all(fake, posted, wanted, "carol") == 120

        async def all_voted() -> bool:
            return len(fake.sent("POST", f"/webhooks/{APP_ID}/")) - followups_before >= 120

        await eventually(all_voted, 90, "an answer to every press")
        votes = await app.voting.track_votes([t.id for t in tracks])
        assert all(votes.get(t.id) == 2 for t in tracks), votes  # the curator's vote and carol's press


async def test_a_25_entry_round_posts_every_entry_votable_and_every_standing(fake: DiscordFake, tmp_path: Path) -> None:
    async with bot(fake, tmp_path) as run:
        app = run.instance.app
        assert app.voting is not None
        members = [sharer("discord", f"entrant{i}") for i in range(25)]
        moderator = Sharer("discord", "mod", "Mod")
        rnd = await seed_round(app, members, moderator, fake.channels["rounds"], 25)

        wanted = {f"wp:vote:round:{rnd.id}:{n}:4" for n in range(1, 26)}

        async def announced() -> bool:  # every entry's card with its buttons (audio may come in between)
            return wanted <= {c for m in _posted(fake, "rounds") for c in _buttons(m)}

        await eventually(announced, 60, "the entries")
        posted = _posted(fake, "rounds")
        assert await _press_all(fake, posted, wanted, "carol") == 25

        async def ballots() -> bool:
            return len(await app.voting._repo.ballots(rnd.id)) == 25

        await eventually(ballots, 60, "a ballot for every entry")
        await app.voting.close_phase(str(rnd.id), moderator)

        async def results() -> bool:
            return any("Results" in (e.get("title") or "") for m in _posted(fake, "rounds") for e in m["embeds"])

        await eventually(results, 60, "the results")
        last = fake.messages[fake.channels["rounds"]][-1]
        thread = fake.thread_of(last["id"])
        rows = [
            f["value"]
            for m in [last, *thread]
            for e in m["embeds"]
            for f in e.get("fields", [])
            if not any(g["name"] == "Pool address" for g in e["fields"])
        ]
        assert len(rows) == 25
        assert {row.split(" ")[0] for row in rows} == {f"Entrant{i}" for i in range(25)}  # every standing


async def test_a_retried_delivery_posts_nothing_twice(fake: DiscordFake, tmp_path: Path) -> None:
    async with bot(fake, tmp_path) as run:
        app = run.instance.app
        members = [sharer("discord", f"member{i}") for i in range(5)]
        await seed_week(app, members, Sharer("discord", "curator", "Curator"), 30)
        assert app.digest is not None
        laid_out = plan(word_digest(await app.digest.build()))
        client = run.parts.discord.client
        first = await post_plan(client, fake.channels["music"], laid_out, key="digest:2026-11-30")
        again = await post_plan(client, fake.channels["music"], laid_out, key="digest:2026-11-30")
        assert first == again and len(first) == len(laid_out.messages) > 1
        assert len(fake.messages[fake.channels["music"]]) == 1
        assert len(fake.thread_of(str(first[0]))) == len(first) - 1


async def test_without_thread_permission_the_rest_follows_in_the_channel(fake: DiscordFake, tmp_path: Path) -> None:
    async with bot(fake, tmp_path) as run:
        app = run.instance.app
        await seed_week(app, [sharer("discord", "member")], Sharer("discord", "curator", "Curator"), 30)
        assert app.digest is not None
        laid_out = plan(word_digest(await app.digest.build()))
        fake.threads_forbidden = True
        ids = await post_plan(run.parts.discord.client, fake.channels["music"], laid_out)
        assert [int(m["id"]) for m in fake.messages[fake.channels["music"]]] == ids
        assert len(ids) == len(laid_out.messages) > 1 and not fake.threads
