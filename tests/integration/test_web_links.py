"""Chat posts link to the web pages when ``[http] public_url`` is set, and only then."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bots.runtime import open_instance
from config import ConfigInvalid, load_settings
from core.events.model import EventKind
from core.model import Declaration
from core.replies import Post
from core.voting_model import RoundRules
from tests.support.audio import make_mp3
from tests.support.factories import member
from tests.support.instances import write_config


async def _posts(tmp_path: Path, public_url: str | None) -> dict[EventKind, list[Post]]:
    tables = {"http": {"public_url": public_url}} if public_url else {}
    config = write_config(tmp_path / "c.toml", tmp_path / "data", **tables)
    async with open_instance(load_settings(config, environ={})) as instance:
        app = instance.app
        assert app.voting is not None and app.digest is not None
        track = (
            await app.share.share_file(
                make_mp3(tmp_path / "a.mp3", 3, 1),
                member("alice"),
                Declaration(title="Night drive", genre="synthwave"),
                filename="a.mp3",
            )
        ).track
        rnd = await app.voting.start(
            RoundRules(theme="Dusk", anonymous=True), member("mod"), "room", timedelta(hours=1), timedelta(hours=1)
        )
        await app.voting.submit(str(rnd.id), track.id, member("alice"))
        await app.voting.close_phase(str(rnd.id), member("mod"))
        await app.digest.publish_now()
        posts: dict[EventKind, list[Post]] = {}
        for recorded in await instance.events.after(0, limit=100):
            posts.setdefault(recorded.event.kind, []).extend(await instance.announcements.posts_for(recorded))
        return posts


async def test_track_and_digest_posts_link_to_their_pages(tmp_path: Path) -> None:
    posts = await _posts(tmp_path, "https://pool.example.org/")
    [accepted] = posts[EventKind.TRACK_ACCEPTED]
    track_id = accepted.reply.cards[0].id
    assert accepted.reply.text.endswith(f"\nhttps://pool.example.org/tracks/{track_id}")
    assert accepted.reply.data["page"] == f"https://pool.example.org/tracks/{track_id}"
    [digest] = posts[EventKind.DIGEST_PUBLISHED]
    week = str(digest.reply.data["week_ending"])[:10]
    assert digest.reply.text.endswith(f"\nhttps://pool.example.org/digests/{week}")
    # a round's entry card would name the entrant on the track page: no link from anonymous rounds
    for post in posts.get(EventKind.ROUND_VOTING_OPENED, []):
        assert "pool.example.org" not in post.reply.text


async def test_without_public_url_posts_carry_no_link(tmp_path: Path) -> None:
    posts = await _posts(tmp_path, None)
    for post in [p for kind_posts in posts.values() for p in kind_posts]:
        assert "/tracks/" not in post.reply.text and "page" not in post.reply.data


@pytest.mark.parametrize("url", ["pool.example.org", "ftp://pool.example.org", "https://pool.example.org/?a=1"])
def test_a_public_url_that_is_not_a_web_address_is_refused_at_startup(tmp_path: Path, url: str) -> None:
    config = write_config(tmp_path / "c.toml", tmp_path / "data", http={"public_url": url})
    with pytest.raises(ConfigInvalid, match="public_url"):
        load_settings(config, environ={})
