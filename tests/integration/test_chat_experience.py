"""The chat experience on a real instance (SQLite): track references, places, watched rooms,
results, search, vote times, hints and times per platform, the command line's secrets."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bots.logging_setup import setup_logging
from bots.runtime import open_instance
from config import load_settings
from core.clock import ManualClock
from core.commands.declaration import Button, Invocation, Permission, Reply
from core.commands.dispatch import execute, press
from core.commands.parsing import parse_chat
from core.errors import UsageError
from core.replies import Dialect, VoteChoice, localize, localize_text
from tests.support.factories import make_track, member
from tests.support.instances import write_config

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class Places:
    """An adapter's place check: knows two rooms, can post in one."""

    def __init__(self) -> None:
        self.rooms = {"#music:hs": "!music:hs", "#quiet:hs": "!quiet:hs"}

    async def check(self, place: str, current: str) -> str:
        if place == "here":
            return current
        room = self.rooms.get(place, place)
        if room not in self.rooms.values():
            raise UsageError(f"the bot is not in {place}: invite it there first")
        if room == "!quiet:hs":
            raise UsageError(f"the bot may not post in {place}")
        return room

    async def name(self, place: str) -> str:
        return next((alias for alias, room in self.rooms.items() if room == place), place)


async def _run(
    instance,  # type: ignore[no-untyped-def]
    text: str,
    user: str = "mod",
    place: str = "!music:hs",
    permission: Permission = Permission.MODERATOR,
    platform: str = "matrix",
    places: Places | None = None,
) -> Reply:
    command, args = parse_chat(instance.registry, text)
    who = member(user, platform)
    return await execute(
        command,
        Invocation(
            platform=platform,
            user_id=who.user_id,
            display_name=who.display_name,
            place=place,
            permission=permission,
            args=args,
            places=places,
        ),
    )


def _config(tmp_path: Path, **tables: dict[str, object]) -> Path:
    return write_config(tmp_path / "c.toml", tmp_path / "data", **tables)


async def test_round_submit_takes_ids_cids_prefixes_and_titles_and_names_the_ambiguous(tmp_path: Path) -> None:
    async with open_instance(load_settings(_config(tmp_path), environ={})) as instance:
        alice = member("alice")
        a96, night, night2 = (make_track(alice, t) for t in ("a96", "Night drive", "Night drive"))
        other = make_track(member("bob"), "Bob's song")
        for track in (a96, night, night2, other):
            await instance.app.tracks.add(track)
        await _run(instance, "round start Night --submit 1h --vote 1h --entries 3")

        async def submit(ref: str) -> Reply:
            return await _run(instance, f'round submit 1 --track "{ref}"', user="alice", permission=Permission.MEMBER)

        assert "entry 1" in (await submit("a96")).text  # a title, not "no track 'a96'"
        ambiguous = await submit("night drive")
        assert ambiguous.failed and "matches 2 of your tracks" in ambiguous.text
        assert night.id[:8] in ambiguous.text and night2.id[:8] in ambiguous.text
        assert "entry 2" in (await submit(night.id[:5])).text  # a short prefix of one's own track
        assert "entry 3" in (await submit(night2.cid)).text
        refused = await submit("Bob's song")
        assert refused.failed and "among your tracks" in refused.text


async def test_prompt_save_links_titles_and_refuses_unknown_tracks(tmp_path: Path) -> None:
    async with open_instance(load_settings(_config(tmp_path), environ={})) as instance:
        track = make_track(member("alice"), "Neon rain")
        await instance.app.tracks.add(track)
        unknown = await _run(instance, 'prompt save "x y z" --track doesnotexist', permission=Permission.MEMBER)
        assert unknown.failed and "no track 'doesnotexist'" in unknown.text
        saved = await _run(instance, "prompt save 'neon rain at dusk' --track 'Neon rain'", user="alice")
        assert not saved.failed and "1 track" in saved.text


async def test_round_results_without_a_number_show_the_latest_closed_round(tmp_path: Path) -> None:
    clock = ManualClock(START)
    async with open_instance(load_settings(_config(tmp_path), environ={}), clock=clock) as instance:
        none_yet = await _run(instance, "round results", permission=Permission.MEMBER)
        assert none_yet.failed and "no round has closed yet" in none_yet.text
        for theme in ("First", "Second"):
            await _run(instance, f"round start {theme} --submit 1h --vote 1h")
            await _run(instance, "round close")  # no entries: closes at once
        await _run(instance, "round start Third --submit 1h --vote 1h")  # open: not the one shown
        shown = await _run(instance, "round results", permission=Permission.MEMBER)
        assert not shown.failed and shown.data["round"] == 2


async def test_search_finds_the_sharers_name_and_the_artist_tag(tmp_path: Path) -> None:
    async with open_instance(load_settings(_config(tmp_path), environ={})) as instance:
        shared = make_track(member("alice"), "Morning light")
        tagged = make_track(member("bob"), "Evening")
        from dataclasses import replace

        await instance.app.tracks.add(shared)
        await instance.app.tracks.add(replace(tagged, artist="Zed Orchestra"))
        by_name = await _run(instance, "search alice", permission=Permission.MEMBER)
        assert by_name.data["tracks"] == [shared.id]
        by_artist = await _run(instance, "search orchestra", permission=Permission.MEMBER)
        assert by_artist.data["tracks"] == [tagged.id]


async def test_a_vote_counts_when_it_was_cast_even_when_read_after_the_deadline(tmp_path: Path) -> None:
    clock = ManualClock(START)
    async with open_instance(load_settings(_config(tmp_path), environ={}), clock=clock) as instance:
        track = make_track(member("alice"), "Entry")
        await instance.app.tracks.add(track)
        await _run(instance, "round start Night --submit 1h --vote 1h")
        await _run(instance, f"round submit 1 {track.id}", user="alice", permission=Permission.MEMBER)
        await _run(instance, "round close")  # voting open until START + 1h
        vote_until = (await instance.app.voting.get(1)).vote_until
        clock.set(vote_until + timedelta(minutes=10))  # the bot reads the reaction 10 minutes late
        bob = member("bob")
        choice = VoteChoice.ballot(1, 1, 1)

        async def vote(acted_at: datetime | None) -> Reply:
            inv = Invocation("matrix", bob.user_id, "Bob", "!music:hs", Permission.MEMBER, {"toggle": False})
            if acted_at is not None:
                from dataclasses import replace

                inv = replace(inv, acted_at=acted_at)
            return await press(instance.registry, Button.vote("👍", choice).custom_id, inv)

        late = await vote(None)
        assert late.failed and "closed" in late.text
        cast_in_time = await vote(vote_until - timedelta(minutes=1))
        assert not cast_in_time.failed, cast_in_time.text
        (ballot,) = await instance.app.voting.ballots(await instance.app.voting.get(1))
        assert ballot.cast_at == vote_until - timedelta(minutes=1)


async def test_channel_set_checks_the_place_and_here_is_the_current_room(tmp_path: Path) -> None:
    async with open_instance(load_settings(_config(tmp_path), environ={})) as instance:
        places = Places()
        here = await _run(instance, "channel set round here", places=places, place="!music:hs")
        assert not here.failed and "#music:hs" in here.text
        assert await instance.app.destination("round:1", "matrix") == "!music:hs"
        bogus = await _run(instance, "channel set digest bogus", places=places)
        assert bogus.failed and "not in bogus" in bogus.text
        muted = await _run(instance, "channel set digest #quiet:hs", places=places)
        assert muted.failed and "may not post" in muted.text
        alias = await _run(instance, "channel set digest #music:hs", places=places)
        assert not alias.failed and await instance.app.destination("digest", "matrix") == "!music:hs"
        genre = await _run(instance, "genre set synthwave bogus", places=places)
        assert genre.failed and "not in bogus" in genre.text
        assert "#music:hs" in (await _run(instance, "genre set synthwave here", places=places)).text
        terminal = await _run(instance, "channel set round here", platform="cli", place="cli")
        assert terminal.failed and "from the terminal give its id" in terminal.text


async def test_digest_publish_never_says_published_when_it_cannot_post(tmp_path: Path) -> None:
    async with open_instance(load_settings(_config(tmp_path), environ={})) as instance:
        places = Places()
        nowhere = await _run(instance, "digest publish", places=places)
        assert nowhere.failed and "no place" in nowhere.text and "Digest published" not in nowhere.text
        await instance.app.genres.set_announcement_place("digest", "matrix", "!gone:hs")  # set before checks existed
        gone = await _run(instance, "digest publish", places=places)
        assert gone.failed and "not in !gone:hs" in gone.text
        assert not [e for e in await instance.events.after(0) if e.kind.value == "digest_published"]
        await _run(instance, "channel set digest here", places=places)
        published = await _run(instance, "digest publish", places=places)
        assert not published.failed and "Digest published to #music:hs" in published.text


async def test_moderators_watch_rooms_without_a_restart_and_the_digest_defaults_to_the_first(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, matrix={"watch_rooms": ["!music:hs"]})
    async with open_instance(load_settings(config, environ={})) as instance:
        genres = instance.app.genres
        assert genres is not None
        places = Places()
        assert await instance.app.destination("digest", "matrix") == "!music:hs"  # the first watched room
        denied = await _run(instance, "watch add", permission=Permission.MEMBER, places=places)
        assert denied.failed
        await _run(instance, "watch remove here", places=places, place="!music:hs")
        assert await genres.watched("matrix") == []
        assert await instance.app.destination("digest", "matrix") is None
        places.rooms["#new:hs"] = "!new:hs"
        added = await _run(instance, "watch add #new:hs", places=places)
        assert "now shared" in added.text
        assert await genres.watched("matrix") == ["!new:hs"]
        listed = await _run(instance, "watch list", places=places, permission=Permission.MEMBER)
        assert "#new:hs" in listed.text
        await _run(instance, "watch add here", places=places, place="!music:hs")  # a configured one back
        assert await genres.watched("matrix") == ["!music:hs", "!new:hs"]


async def test_hints_and_times_are_written_in_each_platforms_syntax(tmp_path: Path) -> None:
    clock = ManualClock(START)
    async with open_instance(load_settings(_config(tmp_path), environ={}), clock=clock) as instance:
        await _run(instance, "round start Night --submit 4m --vote 1h")
        (event,) = await instance.events.after(0)
        (post,) = await instance.announcements.posts_for(event)
        now = START + timedelta(seconds=25)
        matrix = localize(post.reply, Dialect("!wp ", now=now)).text
        assert "`!wp round submit 1 <track>`" in matrix
        assert "in 3 min (09:04:00 UTC)" in matrix
        discord = localize(post.reply, Dialect("/", discord_timestamps=True)).text
        stamp = int((START + timedelta(minutes=4)).timestamp())
        assert "`/round submit 1 <track>`" in discord and f"<t:{stamp}:R>" in discord
        unknown = await _run(instance, "dance" if False else "help dance", platform="matrix")
        assert "`!wp help`" in localize_text(unknown.text, Dialect("!wp "))
        matrix_help = await _run(instance, "help", platform="matrix")
        discord_help = await _run(instance, "help", platform="discord")
        assert "[attach" not in matrix_help.text and "[attach file]" in discord_help.text


def test_library_loggers_stay_at_warning_unless_debug() -> None:
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        setup_logging("INFO")
        assert logging.getLogger("nio.responses").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("aiohttp.access").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("discord.gateway").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("bots.matrix.bot").getEffectiveLevel() == logging.INFO
        setup_logging("DEBUG")
        assert logging.getLogger("nio.responses").getEffectiveLevel() == logging.DEBUG
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
        for name in ("nio", "aiohttp", "aiohttp.access", "discord", "apscheduler"):
            logging.getLogger(name).setLevel(logging.NOTSET)


def _wavepool(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAVEPOOL_")}
    env["HOME"] = str(tmp_path / "home")
    env["XDG_DATA_HOME"] = str(tmp_path / "home" / ".local" / "share")
    return subprocess.run(
        [sys.executable, "-m", "bots.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )


@pytest.mark.parametrize("words", [["help"], ["search", "night"], ["round", "status", "1"]])
def test_read_only_commands_create_no_data_directory(tmp_path: Path, words: list[str]) -> None:
    done = _wavepool(tmp_path, "cmd", *words)
    assert done.returncode in (0, 1), done.stderr
    assert not (tmp_path / "home").exists()


def test_wavepool_cmd_needs_no_chat_secret_but_run_names_the_variable(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "bot.toml",
        tmp_path / "data",
        matrix={"homeserver": "http://127.0.0.1:9", "user_id": "@bot:localhost"},
        http={"port": 0},
    )
    done = _wavepool(tmp_path, "--config", str(config), "cmd", "genres")
    assert done.returncode == 0, done.stderr
    run = _wavepool(tmp_path, "--config", str(config), "run")
    assert run.returncode != 0 and "WAVEPOOL_MATRIX_ACCESS_TOKEN" in run.stderr


async def test_results_and_digest_show_the_ranking_once_and_evidence_stays_indented(tmp_path: Path) -> None:
    from dataclasses import replace

    from bots.matrix.render import plan
    from core.model import Evidence, Strength

    clock = ManualClock(START)
    async with open_instance(load_settings(_config(tmp_path), environ={}), clock=clock) as instance:
        track = replace(
            make_track(member("alice"), "Alpha"),
            evidence=(
                Evidence("tags", "x", Strength.WEAK, "tag says suno"),
                Evidence("c2pa", "y", Strength.STRONG, "signed"),
            ),
        )
        await instance.app.tracks.add(track)
        await _run(instance, "round start Night --submit 1h --vote 1h")
        await _run(instance, f"round submit 1 {track.id}", user="alice", permission=Permission.MEMBER)
        await _run(instance, "round close")
        await _run(instance, "round vote 1 1", user="bob", permission=Permission.MEMBER)
        await _run(instance, "round close")
        results = await _run(instance, "round results 1", permission=Permission.MEMBER)
        body = "\n\n".join(m.content["body"] for m in [plan(results).headline, *plan(results).thread])
        assert body.count("1. Alpha") == 1, body
        assert "  Evidence: strong: signed\n            weak: tag says suno" in body
        digest = await _run(instance, "digest preview", permission=Permission.MEMBER)
        text = plan(digest).headline.content["body"]
        assert text.count("1. ") <= 1, text
