"""The visibility rule on every read path: tracks waiting for review, rejected or taken down
are seen by moderators and their sharer only — in commands, votes, rounds, the digest, the
prompt library, announcements, the federation and ``/blobs``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from bots.runtime import open_instance
from bots.web.server import WebServer
from config import load_settings
from core.commands.declaration import Invocation, Permission, Reply
from core.commands.dispatch import execute, press
from core.commands.parsing import parse_chat
from core.events.model import DomainEvent, EventKind, RecordedEvent
from core.federation.publishing import FederationPublisher
from core.model import TrackStatus, Verdict
from core.views.digest import digest_reply
from core.visibility import ANYONE, Viewer, can_see, is_public
from storage.sqlite.federation_store import SqliteFederationStore
from tests.support.factories import make_track, member
from tests.support.instances import write_config

MALLORY, CAROL = member("mallory"), member("carol")


async def _run(instance, text: str, who=CAROL, permission: Permission = Permission.MEMBER) -> Reply:  # type: ignore[no-untyped-def]
    command, args = parse_chat(instance.registry, text)
    return await execute(
        command,
        Invocation(
            platform=who.platform,
            user_id=who.user_id,
            display_name=who.display_name,
            place="!r:hs",
            permission=permission,
            args=args,
        ),
    )


def test_the_rule() -> None:
    public = make_track(MALLORY, "Open")
    held = make_track(MALLORY, "Held", verdict=Verdict.QUARANTINED)
    down = replace(public, status=TrackStatus.TAKEN_DOWN)
    assert is_public(public) and not is_public(held) and not is_public(down)
    assert can_see(held, Viewer.of(MALLORY)) and can_see(held, Viewer(moderator=True))
    assert not can_see(held, Viewer.of(CAROL)) and not can_see(held, ANYONE)


@pytest.mark.parametrize(
    "verdict,status",
    [
        (Verdict.QUARANTINED, TrackStatus.ACTIVE),
        (Verdict.REJECTED, TrackStatus.ACTIVE),
        (Verdict.DECLARED, TrackStatus.TAKEN_DOWN),
    ],
)
async def test_every_read_path_hides_what_is_not_public(tmp_path: Path, verdict: Verdict, status: TrackStatus) -> None:
    config = write_config(tmp_path / "c.toml", tmp_path / "data")
    async with open_instance(load_settings(config, environ={})) as instance:
        app = instance.app
        blob = tmp_path / "hidden.bin"
        blob.write_bytes(b"hidden audio bytes")
        cid, size = await app.pool.put_file(blob)
        hidden = replace(
            make_track(MALLORY, "Hidden Gem", verdict=verdict, prompt="hidden gem prompt", when=datetime.now(UTC)),
            cid=cid,
            size=size,
            status=status,
            origin_instance=instance.identity.instance_id,
        )
        await app.tracks.add(hidden)
        # commands a member runs
        assert "Hidden Gem" not in (await _run(instance, "search Hidden")).text
        assert "no track" in (await _run(instance, f"track {hidden.id}")).text
        voter = CAROL
        vote = await press(
            instance.registry,
            f"wp:vote:track:{hidden.id}:1",
            Invocation(
                platform=voter.platform,
                user_id=voter.user_id,
                display_name=voter.display_name,
                place="!r:hs",
                permission=Permission.MEMBER,
            ),
        )
        assert "error" in vote.data and "not in the pool" in vote.text
        assert "no track" in (await _run(instance, f'prompt save "a prompt" --track {hidden.id}')).text
        # ... while its sharer and the moderators still see it (the review queue)
        if status is TrackStatus.ACTIVE:
            assert "Hidden Gem" in (await _run(instance, "search Hidden", MALLORY)).text
            assert (
                "Hidden Gem"
                in (await _run(instance, f"track {hidden.id}", who=member("mod"), permission=Permission.MODERATOR))
                .cards[0]
                .title
            )
        # rounds
        await _run(instance, "round start Theme --submit 1h --vote 1h", member("mod"), Permission.MODERATOR)
        entered = await _run(instance, f"round submit 1 --track {hidden.id}", MALLORY)
        assert "error" in entered.data, entered.text
        # the digest
        assert app.digest is not None
        digest = digest_reply(await app.digest.build())
        assert "Hidden Gem" not in digest.text and digest.data["new_tracks"] == 0
        # announcements and the federation
        accepted = RecordedEvent(99, datetime.now(UTC), DomainEvent(EventKind.TRACK_ACCEPTED, track_id=hidden.id))
        assert await instance.announcements.posts_for(accepted) == []
        store = SqliteFederationStore(instance.db)
        await FederationPublisher(store, app.tracks, instance.identity.instance_id, app.digest).deliver(accepted)
        assert list(await store.outbox_pending(10)) == []
        # /blobs
        web = WebServer(app)
        await web.start("127.0.0.1", 0)
        try:
            async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{web.port}/blobs/{cid}") as r:
                assert r.status == 404
        finally:
            await web.stop()


async def test_a_peers_malformed_digest_is_left_out_of_highlights(tmp_path: Path) -> None:
    """A signed digest whose data or origin is not an object must not break our own digest."""
    import json

    from bots.federation.stored_info import StoredPeerDigests

    config = write_config(tmp_path / "c.toml", tmp_path / "data")
    async with open_instance(load_settings(config, environ={})) as instance:
        state = instance.state
        await state.put("federation", "digest:wp-bad", json.dumps({"data": ["not", "an", "object"], "origin": 3}))
        await state.put(
            "federation",
            "digest:wp-good",
            json.dumps({"data": {"top": [{"title": "Neon"}, "junk"]}, "origin": {"name": "Good"}}),
        )
        await state.put("federation", "digest:wp-blocked", json.dumps({"data": {"top": [{"title": "X"}]}}))
        highlights = await StoredPeerDigests(state, ["wp-blocked"]).highlights()
        assert ("Good", ["Neon"]) in highlights and ("wp-bad", []) in highlights
        assert all(name != "wp-blocked" for name, _ in highlights)
