"""On Discord a member's account age is their account's (the snowflake's time), not their guild
membership's: the real discord.py client against the local fake."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import discord

from core.model import Share, Sharer
from core.voting_model import RoundRules
from tests.integration.test_discord_wire import bot
from tests.support.discord_fake import APP_ID, DiscordFake
from tests.support.factories import make_track
from tests.support.instances import eventually


async def test_account_age_is_the_accounts_not_the_guild_membership(fake: DiscordFake, tmp_path: Path) -> None:
    # Both joined the guild on 2026-01-01 (the fake's joined_at); the newcomer's account is two days old.
    veteran = fake.user("veteran")  # the fake's snowflakes date from 2015
    newcomer = fake.user("newcomer")
    newcomer["id"] = str(discord.utils.time_snowflake(discord.utils.utcnow() - timedelta(days=2)))
    async with bot(fake, tmp_path) as run:
        voting = run.instance.app.voting
        assert voting is not None
        tracks = {}
        for user in (veteran, newcomer):
            who = Sharer("discord", user["id"], user["username"])
            track = make_track(who, f"track of {user['username']}")
            await run.instance.app.tracks.add(track, Share(track.id, who, track.first_seen_at, "test"))
            tracks[user["username"]] = track.id
        mod = Sharer("discord", "1", "mod")
        await voting.start(
            RoundRules(theme="Regulars", min_account_age_days=30), mod, "x", timedelta(hours=1), timedelta(hours=1)
        )
        answers: dict[str, str] = {}
        for name in ("newcomer", "veteran"):
            before = len(fake.sent("POST", f"/webhooks/{APP_ID}/"))
            options = [{"name": "round", "type": 3, "value": "1"}, {"name": "track", "type": 3, "value": tracks[name]}]
            await fake.dispatch("INTERACTION_CREATE", fake.interaction("round submit", options, user=name))

            async def answered(count: int = before) -> bool:
                return len(fake.sent("POST", f"/webhooks/{APP_ID}/")) > count

            await eventually(answered, 30, f"the answer to {name}")
            answers[name] = json.dumps(fake.sent("POST", f"/webhooks/{APP_ID}/")[-1].json, ensure_ascii=False)
        assert "at least 30 days" in answers["newcomer"], answers["newcomer"]
        assert "at least 30 days" not in answers["veteran"], answers["veteran"]
        entries = await voting.entries(await voting.get("1"))
        assert [e.submitter.user_id for e in entries] == [veteran["id"]]
