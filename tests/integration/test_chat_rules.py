"""Chat rules members meet: a round's posts go where it started, a moderator cannot approve
their own track, counts read as words."""

from __future__ import annotations

from pathlib import Path

from bots.runtime import open_instance
from config import load_settings
from core.commands.declaration import Invocation, Permission, Reply
from core.commands.dispatch import execute
from core.commands.parsing import parse_chat
from core.model import Verdict
from tests.support.factories import make_track, member
from tests.support.instances import write_config


async def _run(
    instance,
    text: str,
    user: str = "mod",
    place: str = "!rounds:hs",  # type: ignore[no-untyped-def]
    permission: Permission = Permission.MODERATOR,
) -> Reply:
    command, args = parse_chat(instance.registry, text)
    who = member(user)
    return await execute(
        command,
        Invocation(
            platform="matrix",
            user_id=who.user_id,
            display_name=who.display_name,
            place=place,
            permission=permission,
            args=args,
        ),
    )


async def test_a_rounds_posts_go_where_it_started_unless_configured(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", tmp_path / "data")
    async with open_instance(load_settings(config, environ={})) as instance:
        started = await _run(instance, "round start Night drive --submit 1h --vote 1h")
        assert "posted here" in started.text
        (event,) = await instance.events.after(0)
        (post,) = await instance.announcements.posts_for(event)
        assert await instance.app.place_of(post, "matrix") == "!rounds:hs"
        assert await instance.app.place_of(post, "discord") is None  # nothing configured there
        await _run(instance, "channel set round !elsewhere:hs")
        assert await instance.app.place_of(post, "matrix") == "!elsewhere:hs"


async def test_a_moderator_cannot_approve_their_own_track(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", tmp_path / "data")
    async with open_instance(load_settings(config, environ={})) as instance:
        mine = make_track(member("mod"), "Mine", verdict=Verdict.QUARANTINED)
        await instance.app.tracks.add(mine)
        refused = await _run(instance, f"approve {mine.id}")
        assert "another moderator" in refused.text
        assert "Approved" in (await _run(instance, f"approve {mine.id}", user="other-mod")).text


async def test_prompt_counts_read_as_words(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", tmp_path / "data")
    async with open_instance(load_settings(config, environ={})) as instance:
        track = make_track(member("alice"), "One", prompt="dreamy synthwave at night")
        await instance.app.tracks.add(track)
        await _run(
            instance,
            f'prompt save "dreamy synthwave at night" --track {track.id}',
            user="alice",
            permission=Permission.MEMBER,
        )
        found = await _run(instance, "prompt search dreamy", user="alice", permission=Permission.MEMBER)
        assert "1 track" in found.text and "1 tracks" not in found.text
        top = await _run(instance, "prompt top", user="alice", permission=Permission.MEMBER)
        assert "No prompt has votes yet" in top.text
