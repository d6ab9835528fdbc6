"""The Discord side of the chat experience on simcord: share by reply, places checked when
set, watched channels added by a moderator, entry cards that carry their audio."""

from __future__ import annotations

from pathlib import Path

import discord

from tests.integration.test_discord_simcord import _ids, announced, last, text_of, world
from tests.support.audio import make_mp3


async def test_a_reply_that_asks_the_bot_to_share_takes_the_audio_and_its_caption(tmp_path: Path) -> None:
    async with world(tmp_path) as (env, guild, instance):
        general = guild.create_text_channel("general")  # not watched
        alice = guild.add_member(env.create_user("alice"))
        data = make_mp3(tmp_path / "drop.mp3", 3, 4).read_bytes()
        original = await alice.send(general, "Neon rain #synthwave", attachments=[("drop.mp3", data)])
        assert await instance.app.tracks.count() == 0  # an unwatched channel is not shared by itself
        assert env.bot.user is not None
        await alice.send(general, f"{env.bot.user.mention} share", reply_to=original)
        answer = general.last_message
        assert answer.author.id == env.bot.user.id and "Neon rain" in text_of(answer)
        (track,) = await instance.app.tracks.recent(5)
        assert (track.title, track.genre) == ("Neon rain", "synthwave")
        link = await alice.send(general, "listen: https://127.0.0.1:9/nothing.mp3")
        await alice.send(general, f"{env.bot.user.mention} share", reply_to=link)
        assert general.last_message.author.id == env.bot.user.id  # answered (the link is refused)
        words = await alice.send(general, "no audio here")
        await alice.send(general, f"{env.bot.user.mention} share", reply_to=words)
        assert "reply to a message with an audio file or a link" in text_of(general.last_message)


async def test_channel_set_checks_the_channel_and_here_is_this_channel(tmp_path: Path) -> None:
    async with world(tmp_path) as (env, guild, instance):
        chans = _ids(guild)
        mods = guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
        mod = guild.add_member(env.create_user("mod"), roles=[mods])
        await mod.slash(chans["rounds"], "channel set", purpose="round", place="here")
        assert "#rounds" in text_of(chans["rounds"].last_message)
        assert await instance.app.destination("round:1", "discord") == str(chans["rounds"].id)
        bogus = await mod.slash(chans["rounds"], "channel set", purpose="digest", place="bogus")
        assert "not a channel" in text_of(last(bogus))
        missing = await mod.slash(chans["rounds"], "channel set", purpose="digest", place="123456789")
        assert "no channel" in text_of(last(missing))
        assert await instance.app.destination("digest", "discord") is None


async def test_a_moderator_watches_a_channel_without_a_restart(tmp_path: Path) -> None:
    async with world(tmp_path) as (env, guild, instance):
        chans = _ids(guild)
        mods = guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
        mod = guild.add_member(env.create_user("mod"), roles=[mods])
        alice = guild.add_member(env.create_user("alice"))
        data = make_mp3(tmp_path / "drop.mp3", 3, 4).read_bytes()
        await alice.send(chans["music"], "first", attachments=[("drop.mp3", data)])
        assert await instance.app.tracks.count() == 0
        await mod.slash(chans["music"], "watch add")
        assert "now shared" in text_of(chans["music"].last_message)
        await alice.send(chans["music"], "again", attachments=[("drop.mp3", data)])
        assert await instance.app.tracks.count() == 1


async def test_voting_open_entry_cards_carry_the_audio(tmp_path: Path) -> None:
    async with world(tmp_path) as (env, guild, instance):
        chans = _ids(guild)
        mods = guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
        mod = guild.add_member(env.create_user("mod"), roles=[mods])
        alice = guild.add_member(env.create_user("alice"))
        await mod.slash(chans["rounds"], "round start", theme="Night", submit="1h", vote="1h")
        data = make_mp3(tmp_path / "a.mp3", 3, 1).read_bytes()
        await alice.slash(chans["music"], "share", file=("a.mp3", data), title="Alpha")
        await alice.slash(chans["rounds"], "round submit", round="1", track="Alpha")
        await mod.slash(chans["rounds"], "round close", round="1")
        await announced()
        entry = next(m for m in reversed(chans["rounds"].history()) if "entry 1" in text_of(m).lower())
        assert entry.attachments and entry.attachments[0].filename.endswith(".mp3")
