"""Curation commands through the registry on a real instance: reputation, boost, discover,
similar, lineage, and ``share --remix-of`` with stems (real ffmpeg, real SQLite)."""

from __future__ import annotations

from pathlib import Path

from bots.runtime import open_instance
from config import load_settings
from core.commands.declaration import Attachment, Invocation, Permission, Reply
from core.commands.dispatch import execute
from core.commands.parsing import parse_chat
from core.events.model import EventKind
from core.model import Share
from core.replies import Dialect, localize_text
from core.voting_model import Voter
from tests.support.audio import make_mp3
from tests.support.factories import make_track, member
from tests.support.instances import write_config

PLAIN = Dialect("")


def _inv(user: str, permission: Permission, args: dict[str, object], files: tuple[Attachment, ...] = ()) -> Invocation:
    who = member(user)
    return Invocation(who.platform, who.user_id, who.display_name, "!r:hs", permission, args, files)


async def _run(  # type: ignore[no-untyped-def]
    instance, text: str, user: str = "mod", permission: Permission = Permission.MEMBER, files=()
) -> Reply:
    command, args = parse_chat(instance.registry, text)
    return await execute(command, _inv(user, permission, args, files))


async def test_reputation_boost_discover_similar_through_the_registry(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", tmp_path / "data", curation={"min_boost_reputation": 5.0})
    async with open_instance(load_settings(config, environ={})) as instance:
        app = instance.app
        jazz = [make_track(member("artist"), f"Jazz {n}", "jazz", prompt=f"smoky sax {n}") for n in range(6)]
        for track in jazz:
            await app.tracks.add(track, Share(track.id, track.sharer, track.first_seen_at, "room"))
        repo = app.voting._repo  # type: ignore[union-attr]  # votes straight in: no round needed
        for n in range(5):
            for track in jazz:
                await repo.set_track_vote(track.id, Voter.of(member(f"fan{n}")), 1, app.clock.now())
        await repo.set_track_vote(jazz[0].id, Voter.of(member("newbie")), 1, app.clock.now())

        mine = await _run(instance, "reputation", "artist")
        assert (
            mine.private
            and mine.data["score"] > 5
            and "31 votes on 6 of your 6 tracks" in mine.text
            and "circle" not in mine.text
        )
        denied = await _run(instance, f"reputation {member('artist').user_id}", "fan0")
        assert denied.failed and "moderators" in denied.text
        seen = await _run(instance, f"reputation {member('artist').user_id}", "mod", Permission.MODERATOR)
        assert seen.data["score"] == mine.data["score"] and seen.title.startswith("Reputation of Artist")
        board = await _run(instance, "curators", "fan0")
        assert board.failed and "private" in board.text

        picks = await _run(instance, "discover", "newbie")
        assert set(picks.data["tracks"]) == {t.id for t in jazz[1:]}
        assert "because you liked Jazz 0" in picks.text
        like = await _run(instance, f"similar {jazz[0].id}", "newbie")
        assert set(like.data["tracks"]) == {t.id for t in jazz[1:]}

        refused = await _run(instance, f"boost {jazz[1].id}", "newbie")
        assert refused.failed and "reputation of 5" in refused.text
        boosted = await _run(instance, f"boost {jazz[1].id}", "mod", Permission.MODERATOR)
        assert boosted.data["boosts"] == 1
        card = await _run(instance, f"track {jazz[1].id}", "newbie")
        assert ("Boosted", "by 1 curator") in card.fields
        assert (await instance.events.after(0))[-1].kind is EventKind.TRACK_BOOSTED


async def test_share_remix_of_with_stems_links_each_file_and_tells_the_parent_sharer(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", tmp_path / "data")
    async with open_instance(load_settings(config, environ={})) as instance:
        original = await _run(
            instance,
            "share --title Original --genre lofi --generator suno",
            "alice",
            files=(Attachment("original.mp3", make_mp3(tmp_path / "original.mp3", 4, 1), 0),),
        )
        parent_id = original.data["track"]
        stems = tuple(
            Attachment(f"{name}.mp3", make_mp3(tmp_path / f"{name}.mp3", 4, seed), 0)
            for seed, name in ((2, "drums"), (3, "bass"))
        )
        reply = await _run(
            instance, f"share --remix-of {parent_id} --relation stems --generator suno", "bob", files=stems
        )
        assert reply.data["linked"] == 2 and "Linked as 2 stems of Original" in reply.text
        remix = await _run(
            instance,
            f"share --remix-of {parent_id} --relation remix --generator suno --title Remix",
            "carol",
            files=(Attachment("remix.mp3", make_mp3(tmp_path / "remix.mp3", 4, 4), 0),),
        )
        assert remix.data["linked"] == 1
        card = await _run(instance, f"track {parent_id}", "dave")
        fields = dict(card.fields)
        assert fields["Derived"] == "2 stems · 1 remix"
        assert "drums.mp3" in fields["Stems"] and "bass.mp3" in fields["Stems"]
        child_card = dict((await _run(instance, f"track {remix.data['track']}", "dave")).fields)
        assert child_card["A remix of"].startswith("Original")
        tree = await _run(instance, f"lineage {remix.data['track']}", "dave")
        assert tree.text.splitlines()[0].startswith("Original") and "▶ [remix] Remix" in tree.text
        remixed = [e for e in await instance.events.after(0) if e.kind is EventKind.TRACK_REMIXED]
        assert len(remixed) == 3
        posts = await instance.announcements.posts_for(remixed[-1])
        assert [p.target for p in posts] == ["genre:lofi"]
        assert "Alice, your track Original has a new remix: Remix by Carol" in localize_text(posts[0].reply.text, PLAIN)
