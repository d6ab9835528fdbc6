"""A posted track card is edited in place (Matrix ``m.replace``) when the generator confirms the track later."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.events.model import DomainEvent, EventKind
from core.model import Declaration, Sharer, Verdict
from storage.sqlite.posted_cards import SqlitePostedCards
from tests.support.audio import make_mp3
from tests.support.discord_fake import APP_ID, GUILD_ID, DiscordFake
from tests.support.discord_harness import discord_bot
from tests.support.homeserver import Homeserver
from tests.support.instances import eventually, running, write_config

PARTS = ("bots.matrix.part",)


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Homeserver]:
    server = Homeserver.start(tmp_path_factory.mktemp("synapse-card-edits"))
    yield server
    server.stop()


@pytest.mark.synapse
async def test_a_verdict_upgrade_edits_the_posted_card(synapse: Homeserver, tmp_path: Path) -> None:
    tag = str(time.monotonic_ns())[-6:]
    bot, bot_token = synapse.register(f"bot{tag}")
    mod, mod_token = synapse.register(f"mod{tag}")
    room = synapse.create_room(mod_token, invite=[bot], name="music", power={bot: 50})
    config = write_config(
        tmp_path / "bot.toml",
        tmp_path / "data",
        matrix={"homeserver": synapse.url, "user_id": bot, "access_token": bot_token},
        genres={"default_matrix_room": room},
    )

    def bot_events() -> list[dict[str, Any]]:
        return [
            e
            for e in reversed(synapse.messages(mod_token, room, 200))
            if e["sender"] == bot and e["type"] == "m.room.message"
        ]

    async with running(config, PARTS) as run:
        app = run.instance.app
        alice = Sharer("matrix", f"@alice{tag}:localhost", "Alice")
        song = make_mp3(tmp_path / "Harbour Lights.mp3", 6, 77)
        track = (await app.share.share_file(song, alice, Declaration(generator="suno"), filename=song.name)).track
        assert track.verdict is Verdict.DECLARED

        async def card_posted() -> bool:
            return bool(await SqlitePostedCards(run.instance.db).of_track(track.id, "matrix"))

        await eventually(card_posted, 60, "the track's card in the room")
        (card,) = await SqlitePostedCards(run.instance.db).of_track(track.id, "matrix")
        original = next(e for e in bot_events() if e["event_id"] == card.message_id)
        assert "declared" in original["content"]["body"]

        # the generator confirmed it (what ConfirmationService records)
        async with run.instance.events.transaction():
            await app.tracks.set_verdict(track.id, Verdict.VERIFIED, "confirmed by suno")
            await run.instance.events.record(DomainEvent(EventKind.TRACK_VERIFIED, track_id=track.id), app.clock.now())

        def edits() -> list[dict[str, Any]]:
            return [
                e
                for e in bot_events()
                if (e["content"].get("m.relates_to") or {}).get("rel_type") == "m.replace"
                and e["content"]["m.relates_to"].get("event_id") == card.message_id
            ]

        async def edited() -> bool:
            return bool(edits())

        await eventually(edited, 60, "the card's m.replace edit")
        (edit,) = edits()
        new_body = edit["content"]["m.new_content"]["body"]
        assert "verified: confirmed by suno" in new_body and card.headline in new_body
        assert edit["content"]["body"].startswith("* ")


async def test_a_verdict_upgrade_edits_the_posted_discord_card(fake: DiscordFake, tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "bot.toml",
        tmp_path / "data",
        discord={"token": "fake-token", "application_id": APP_ID, "test_guild_id": GUILD_ID, "api_base": fake.base},
        genres={"default_discord_channel": fake.channels["synthwave"]},
    )
    async with discord_bot(config) as run:
        app = run.instance.app
        alice = Sharer("discord", "111", "Alice")
        song = make_mp3(tmp_path / "Harbour Lights.mp3", 6, 78)
        track = (await app.share.share_file(song, alice, Declaration(generator="suno"), filename=song.name)).track

        async def card_posted() -> bool:
            return bool(await SqlitePostedCards(run.instance.db).of_track(track.id, "discord"))

        await eventually(card_posted, 60, "the track's card in the channel")
        (card,) = await SqlitePostedCards(run.instance.db).of_track(track.id, "discord")
        posted = next(m for m in fake.messages[fake.channels["synthwave"]] if m["id"] == card.message_id)
        assert "declared" in json.dumps(posted["embeds"])

        async with run.instance.events.transaction():
            await app.tracks.set_verdict(track.id, Verdict.VERIFIED, "confirmed by suno")
            await run.instance.events.record(DomainEvent(EventKind.TRACK_VERIFIED, track_id=track.id), app.clock.now())

        async def edited() -> bool:
            return card.message_id in fake.edits

        await eventually(edited, 60, "the card's edit")
        assert "verified: confirmed by suno" in json.dumps(posted["embeds"])  # the fake edits in place
        assert posted["edited_timestamp"] is not None
    assert not fake.rejected, fake.rejected[:3]
