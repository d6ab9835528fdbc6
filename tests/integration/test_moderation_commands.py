"""Moderator commands through the registry: review, approve (posted to its genre), reject, takedown."""

from __future__ import annotations

from pathlib import Path

from bots.runtime import open_instance
from config import load_settings
from core.commands.declaration import Invocation, Permission
from core.commands.dispatch import execute
from core.commands.parsing import parse_chat
from core.events.model import EventKind
from core.model import TrackStatus, Verdict
from tests.support.factories import make_track, member
from tests.support.instances import write_config


def _inv(user: str, permission: Permission, args: dict[str, object]) -> Invocation:
    who = member(user)
    return Invocation(
        platform=who.platform,
        user_id=who.user_id,
        display_name=who.display_name,
        place="!r:hs",
        permission=permission,
        args=args,
    )


async def _run(instance, text: str, user: str = "mod", permission: Permission = Permission.MODERATOR):  # type: ignore[no-untyped-def]
    command, args = parse_chat(instance.registry, text)
    return await execute(command, _inv(user, permission, args))


async def test_review_approve_reject_takedown_and_genre_move(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", tmp_path / "data")
    async with open_instance(load_settings(config, environ={})) as instance:
        held = make_track(member("alice"), "Held back", verdict=Verdict.QUARANTINED)
        other = make_track(member("bob"), "Other", genre="lofi")
        for track in (held, other):
            await instance.app.tracks.add(track)
        denied = await _run(instance, "review", "alice", Permission.MEMBER)
        assert denied.private and "moderator" in denied.text
        queue = await _run(instance, "review")
        assert queue.data["tracks"] == [held.id]
        await _run(instance, f"approve {held.id} looks fine")
        approval = (await instance.events.after(0))[-1]
        assert approval.kind is EventKind.TRACK_APPROVED and approval.event.track_id == held.id
        assert [p.target for p in await instance.announcements.posts_for(approval)] == ["genre:synthwave"]
        assert (await instance.app.tracks.get(held.id)).verdict is Verdict.DECLARED
        again = await _run(instance, f"approve {held.id}")
        assert again.private and "already declared" in again.text
        rejected = await _run(instance, f"reject {other.id} spam")
        assert "Rejected" in rejected.text
        moved = await _run(instance, f"genre move {held.id} ambient", "bob", Permission.MEMBER)
        assert moved.private and "your own tracks" in moved.text
        moved = await _run(instance, f"genre move {held.id} drone", "alice", Permission.MEMBER)
        assert "ambient" in moved.text and (await instance.app.tracks.get(held.id)).genre == "ambient"
        down = await _run(instance, f"takedown {held.id} asked by the author")
        assert "Took down" in down.text
        assert (await instance.app.tracks.get(held.id)).status is TrackStatus.TAKEN_DOWN
        kinds = [e.kind for e in await instance.events.after(0)]
        assert kinds[-3:] == [EventKind.TRACK_APPROVED, EventKind.TRACK_REJECTED, EventKind.TRACK_TAKEN_DOWN]
        assert await instance.announcements.posts_for((await instance.events.after(0))[0]) == []  # taken down since
        placed = await _run(instance, "genre set outrun !synth:hs")
        assert "synthwave" in placed.text
        assert await instance.app.destination("genre:synthwave", "matrix") == "!synth:hs"
