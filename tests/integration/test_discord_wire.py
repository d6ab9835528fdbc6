"""The real discord.py client over the network against a local fake of Discord's API and gateway."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests.support.audio import make_mp3
from tests.support.discord_fake import APP_ID, GUILD_ID, DiscordFake
from tests.support.discord_harness import discord_bot
from tests.support.instances import eventually, write_config


@contextlib.asynccontextmanager
async def bot(fake: DiscordFake, tmp_path: Path) -> AsyncIterator[Any]:
    config = write_config(
        tmp_path / "bot.toml",
        tmp_path / "data",
        ingest={"max_mb": 3},
        discord={
            "token": "fake-token",
            "application_id": APP_ID,
            "test_guild_id": GUILD_ID,
            "api_base": fake.base,
            "watch_channels": [fake.channels["music"]],
        },
        genres={"default_discord_channel": fake.channels["synthwave"]},
    )
    async with discord_bot(config) as run:
        yield run


def _all_sent_messages(fake: DiscordFake) -> list[dict[str, Any]]:
    return [
        r.json
        for r in fake.requests
        if r.method in ("POST", "PATCH")
        and isinstance(r.json, dict)
        and ("content" in r.json or "embeds" in r.json or "data" in r.json)
    ]


async def test_sync_slash_roundtrip_attachment_and_restart(fake: DiscordFake, tmp_path: Path) -> None:
    async with bot(fake, tmp_path):
        synced = fake.sent("PUT", f"/applications/{APP_ID}/guilds/{GUILD_ID}/commands")
        assert len(synced) == 1
        names = {c["name"] for c in synced[0].json}
        assert {"share", "round", "prompt", "help", "track"} <= names
        # slash command: deferred at once (ephemeral), then answered by a follow-up
        await fake.dispatch("INTERACTION_CREATE", fake.interaction("help", []))

        async def followed_up() -> bool:
            return bool(fake.sent("POST", f"/webhooks/{APP_ID}/"))

        await eventually(followed_up, 20, "the follow-up")
        callback = fake.sent("POST", "/interactions/")[0].json
        assert callback["type"] == 5 and callback["data"]["flags"] & 64
        followup = fake.sent("POST", f"/webhooks/{APP_ID}/")[0].json
        assert "round start" in json_text(followup)
        # an audio file posted in the watched channel is ingested and answered with a card + the file
        data = make_mp3(tmp_path / "drop.mp3", 3, 5).read_bytes()
        attachment = fake.attachment("@everyone drop.mp3", data, "audio/mpeg")
        fake.fail_next[f"/channels/{fake.channels['music']}/messages"] = 1  # one outage, retried
        fake.rate_limit_next[f"/channels/{fake.channels['synthwave']}/messages"] = 1  # a 429, retried
        await fake.dispatch("MESSAGE_CREATE", fake.message_create("new!", attachments=[attachment]))

        async def answered() -> bool:
            return any(r.files for r in fake.sent("POST", f"/channels/{fake.channels['music']}/messages"))

        await eventually(answered, 60, "the card in the channel")
        card = next(r for r in fake.sent("POST", f"/channels/{fake.channels['music']}/messages") if r.files)
        assert card.json["embeds"][0]["title"].endswith("@everyone drop")
        assert card.files[0][1] == data

        async def routed() -> bool:  # the 429 and its retry
            return len(fake.sent("POST", f"/channels/{fake.channels['synthwave']}/messages")) == 2

        await eventually(routed, 20, "the card in the default channel")
        to_default = fake.sent("POST", f"/channels/{fake.channels['synthwave']}/messages")
        assert len(to_default) == 2 and to_default[-1].json["embeds"]  # the 429 and its retry
        for body in _all_sent_messages(fake):
            inner = body.get("data", body)
            assert inner.get("allowed_mentions", {"parse": []}).get("parse") == [], body
        assert not fake.unknown, fake.unknown
    # restart with the same commands: no second sync
    async with bot(fake, tmp_path):
        assert len(fake.sent("PUT", "/commands")) == 1
        assert not fake.unknown, fake.unknown


def json_text(body: dict[str, Any]) -> str:
    parts = [body.get("content") or ""]
    for embed in body.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [f"{f['name']} {f['value']}" for f in embed.get("fields") or []]
    return "\n".join(parts)


async def test_non_audio_attachment_refused(fake: DiscordFake, tmp_path: Path) -> None:
    async with bot(fake, tmp_path) as run:
        attachment = fake.attachment("song.mp3", b"<html>not audio</html>", "audio/mpeg")
        await fake.dispatch("MESSAGE_CREATE", fake.message_create("here", attachments=[attachment]))

        async def answered() -> bool:
            return bool(fake.sent("POST", f"/channels/{fake.channels['music']}/messages"))

        await eventually(answered, 30, "the refusal")
        reply = fake.sent("POST", f"/channels/{fake.channels['music']}/messages")[-1].json
        assert "not audio" in json_text(reply)
        assert await run.instance.app.tracks.count() == 0
