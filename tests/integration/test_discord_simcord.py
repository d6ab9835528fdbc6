"""The Discord bot on simcord: discord.py's real parsing, command tree and views, offline."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import simcord

from bots.discord.client import WavepoolClient
from bots.discord.part import DiscordPart
from bots.instance import Instance
from bots.runtime import open_instance
from config import load_settings
from core.events.dispatcher import Dispatcher
from tests.support.audio import make_mp3
from tests.support.instances import write_config


@contextlib.asynccontextmanager
async def world(tmp_path: Path, **tables: dict[str, Any]) -> AsyncIterator[tuple[simcord.Env, Any, Instance]]:
    """An instance, its bot in simcord, a guild with #music, #synthwave and #rounds."""
    config = write_config(tmp_path / "wavepool.toml", tmp_path / "data", ingest={"max_mb": 3}, **tables)
    global _DISPATCHER
    async with open_instance(load_settings(config, environ={})) as instance:
        client = WavepoolClient(instance)
        _DISPATCHER = Dispatcher(instance.events, [DiscordPart(instance, client)], instance.app.clock)
        async with simcord.run(client, settle_timeout=60) as env:
            guild = env.create_guild("AI Music")
            yield env, guild, instance


_DISPATCHER: Dispatcher | None = None


async def announced() -> None:
    """Deliver every recorded event to the bot now (what the running instance's dispatcher does)."""
    assert _DISPATCHER is not None
    for _ in range(100):
        if not await _DISPATCHER.pump():
            return


def last(result: simcord.InteractionResult) -> simcord.ResponseMessage:
    """The bot's final word on an interaction (its last follow-up, or the response it became)."""
    message = result.followups[-1] if result.followups else result.response
    assert message is not None, result
    return message


def text_of(message: Any) -> str:
    """Content plus every embed's title, description and fields."""
    parts = [message.content or ""]
    for embed in message.embeds:
        parts += [embed.title or "", embed.description or ""]
        parts += [f"{f.name} {f.value}" for f in embed.fields]
    return "\n".join(parts)


def _ids(guild: Any) -> dict[str, Any]:
    return {name: guild.create_text_channel(name) for name in ("music", "synthwave", "rounds", "digest")}


async def test_slash_round_trip_help_and_errors(tmp_path: Path) -> None:
    async with world(tmp_path) as (env, guild, _instance):
        channel = guild.create_text_channel("general")
        alice = guild.add_member(env.create_user("alice"))
        assert "round start" in alice.available_commands(channel)
        result = await alice.slash(channel, "help")
        assert result.acknowledged
        followup = last(result)
        assert followup.ephemeral and "round vote" in text_of(followup)
        denied = await alice.slash(channel, "round start", theme="Night drive")
        assert last(denied).ephemeral and "moderator" in text_of(last(denied))
        missing = await alice.slash(channel, "track", track="nope")
        assert last(missing).ephemeral and "no track" in text_of(last(missing))
        assert "Traceback" not in env.transcript()


async def test_share_attachment_posts_card_to_genre_channel(tmp_path: Path) -> None:
    async with world(tmp_path) as (env, guild, instance):
        chans = _ids(guild)
        await instance.app.genres.set_place("synthwave", "discord", str(chans["synthwave"].id))
        alice = guild.add_member(env.create_user("alice"))
        data = make_mp3(tmp_path / "neon.mp3", 3, 3).read_bytes()
        result = await alice.slash(
            chans["music"],
            "share",
            file=("neon.mp3", data),
            title="@everyone Neon",
            prompt="dreamy 80s synthwave",
            generator="suno",
        )
        assert last(result).ephemeral and "Done" in last(result).content
        reply = chans["music"].last_message
        card = reply.embeds[0]
        fields = {f.name: f.value for f in card.fields}
        assert fields["Genre"] == "synthwave" and "LUFS" in fields["Loudness"]
        assert "@everyone" in card.title  # shown, but pings nobody:
        assert reply.attachments and reply.attachments[0].filename.endswith(".mp3")
        await announced()
        posted = chans["synthwave"].last_message
        assert posted is not None and posted.embeds and "Neon" in posted.embeds[0].title
        fake = await alice.slash(chans["music"], "share", file=("song.mp3", b"not audio at all\n" * 50))
        assert last(fake).ephemeral and "not audio" in text_of(last(fake))
        long_title = "x" * 3000
        odd = await alice.slash(
            chans["music"],
            "share",
            file=("other.mp3", make_mp3(tmp_path / "o.mp3", 3, 9).read_bytes()),
            title=long_title,
        )
        assert "Done" in last(odd).content
        embed = chans["music"].last_message.embeds[0]
        assert len(embed.title) <= 256 and embed.title.endswith("…")


async def test_watched_channel_upload_is_shared(tmp_path: Path) -> None:
    async with world(tmp_path) as (env, guild, instance):
        chans = _ids(guild)
        client = env.bot
        assert instance.app.genres is not None  # a moderator's `watch add`, no restart
        await instance.app.genres.set_watched("discord", str(chans["music"].id), True)
        alice = guild.add_member(env.create_user("alice"))
        data = make_mp3(tmp_path / "drop.mp3", 3, 4).read_bytes()
        message = await alice.send(chans["music"], "new one!", attachments=[("drop.mp3", data)])
        reply = chans["music"].last_message
        assert reply.reference is not None and reply.reference.message_id == message.id
        assert reply.embeds and "drop" in reply.embeds[0].title
        assert reply.embeds[0].url == message.jump_url
        await alice.send(chans["music"], "oops", attachments=[("fake.mp3", b"<html>nope</html>")])
        assert "not audio" in text_of(chans["music"].last_message)
        await alice.send(chans["rounds"], "elsewhere", attachments=[("drop2.mp3", data)])
        assert chans["rounds"].last_message.author.id != client.user.id
        assert await instance.app.tracks.count() == 1


async def test_votes_by_buttons_and_round_to_results(tmp_path: Path) -> None:
    async with world(tmp_path) as (env, guild, instance):
        chans = _ids(guild)
        mods = guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
        mod = guild.add_member(env.create_user("mod"), roles=[mods])
        for purpose in ("round", "digest"):
            await mod.slash(
                chans["rounds"],
                "channel set",
                purpose=purpose,
                place=str(chans[f"{purpose}s" if purpose == "round" else purpose].id),
            )
        alice = guild.add_member(env.create_user("alice"))
        bob = guild.add_member(env.create_user("bob"))
        cards = {}
        for who, seed in ((alice, 1), (bob, 2)):
            data = make_mp3(tmp_path / f"{who.name}.mp3", 3, seed).read_bytes()
            await who.slash(chans["music"], "share", file=(f"{who.name}.mp3", data))
            cards[who.name] = chans["music"].last_message
        card = cards["alice"]
        vote = await bob.click(card, label="👍")
        assert last(vote).ephemeral and "recorded" in text_of(last(vote)).lower()
        again = await bob.click(card, label="👍")
        assert "withdrawn" in text_of(last(again)).lower()
        selfvote = await alice.click(card, label="👍")
        assert "own track" in text_of(last(selfvote))
        await bob.click(card, label="👍")
        await mod.slash(chans["rounds"], "round start", theme="Night drive", submit="1h", vote="1h")
        await announced()
        assert "Round #1" in text_of(chans["rounds"].last_message)
        denied = await alice.slash(chans["rounds"], "round close", round="1")
        assert last(denied).ephemeral and "moderator" in text_of(last(denied))
        for who in (alice, bob):
            choices = await who.autocomplete(chans["rounds"], "round submit", "track", "")
            assert len(choices) == 1
            await who.slash(chans["rounds"], "round submit", round="1", track=choices[0]["value"])
            assert "entry" in text_of(chans["rounds"].last_message)
        rounds = await alice.autocomplete(chans["rounds"], "round vote", "round", "")
        assert [c["value"] for c in rounds] == ["1"]
        await mod.slash(chans["rounds"], "round close", round="1")
        # the voting announcement posted one message per entry, with its vote button
        await announced()
        entries = [m for m in chans["rounds"].history() if m.embeds and "entry" in (m.embeds[0].title or "")]
        assert len(entries) == 2
        bob_on_alice = await bob.click(next(m for m in entries if "entry 1" in m.embeds[0].title), label="👍")
        assert "recorded" in text_of(last(bob_on_alice)).lower()
        mine = await alice.slash(chans["rounds"], "round vote", round="1", entry=1)
        assert "own entry" in text_of(last(mine))
        await alice.slash(chans["rounds"], "round vote", round="1", entry=2)
        await mod.slash(chans["rounds"], "round vote", round="1", entry=1)
        await mod.slash(chans["rounds"], "round close", round="1")
        await announced()
        results = [m for m in chans["rounds"].history() if m.embeds and (m.embeds[0].title or "").startswith("Results")]
        assert results and "2 votes" in text_of(results[-1])
        await mod.slash(chans["rounds"], "digest publish")
        await announced()
        digest = chans["digest"].last_message
        assert "Weekly digest" in text_of(digest) and digest.embeds


async def test_prompt_save_opens_a_modal_and_autocomplete(tmp_path: Path) -> None:
    async with world(tmp_path) as (env, guild, instance):
        channel = guild.create_text_channel("prompts")
        alice = guild.add_member(env.create_user("alice"))
        shown = await alice.slash(channel, "prompt save")
        assert shown.modal is not None
        saved = await alice.submit_modal(shown, {"text": "dreamy 80s synthwave with gated drums"})
        assert saved.acknowledged
        assert "Saved" in text_of(channel.last_message)
        choices = await alice.autocomplete(channel, "prompt show", "prompt", "gated")
        assert choices and "gated drums" in choices[0]["name"]
        genres = await alice.autocomplete(channel, "share", "genre", "syn")
        assert [c["value"] for c in genres] == ["synthwave"]
        assert await instance.app.prompts.search("gated")


async def test_score_votes_change_and_buttons_survive_a_restart(tmp_path: Path) -> None:
    async with world(tmp_path) as (env, guild, instance):
        chans = _ids(guild)
        mods = guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
        mod = guild.add_member(env.create_user("mod"), roles=[mods])
        alice = guild.add_member(env.create_user("alice"))
        bob = guild.add_member(env.create_user("bob"))
        await mod.slash(chans["rounds"], "channel set", purpose="round", place=str(chans["rounds"].id))
        data = make_mp3(tmp_path / "a.mp3", 3, 1).read_bytes()
        await alice.slash(chans["music"], "share", file=("a.mp3", data))
        card = chans["music"].last_message
        await mod.slash(chans["rounds"], "round start", theme="Scores", ballot="score", submit="1h", vote="1h")
        track_id = (await instance.app.tracks.recent())[0].id
        await alice.slash(chans["rounds"], "round submit", round="1", track=track_id)
        await mod.slash(chans["rounds"], "round close", round="1")
        await announced()
        entry = next(m for m in chans["rounds"].history() if m.embeds and "entry 1" in (m.embeds[0].title or ""))
        assert [c.label for row in entry.components for c in row.children] == ["1", "2", "3", "4", "5"]
        first = await bob.click(entry, label="4")
        assert "recorded" in text_of(last(first)).lower()
        # a new client (a restarted process) still answers the old messages' buttons
        await env.restart_bot(WavepoolClient(instance))
        changed = await bob.click(entry, label="5")
        assert "changed" in text_of(last(changed)).lower()
        track_vote = await bob.click(card, label="👍")
        assert "recorded" in text_of(last(track_vote)).lower()
        standings = await instance.app.voting.standings(await instance.app.voting.get("1"))
        assert standings[0].total == 5
