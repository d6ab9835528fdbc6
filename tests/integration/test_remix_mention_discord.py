"""A remix of a Discord member's track pings them through the real discord.py client (and only them)."""

from __future__ import annotations

from pathlib import Path

from core.curation_ports import Relation
from core.model import Declaration, Sharer, Verdict
from tests.integration.test_discord_posting import bot
from tests.support.audio import make_mp3
from tests.support.discord_fake import DiscordFake
from tests.support.instances import eventually


async def test_the_parents_discord_sharer_is_mentioned_and_may_be_pinged(fake: DiscordFake, tmp_path: Path) -> None:
    async with bot(fake, tmp_path) as run:
        app = run.instance.app
        assert app.curation is not None
        alice = Sharer("discord", "412345678901234567", "Alice")
        carol = Sharer("discord", "498765432109876543", "Carol")
        shared = []
        for who, title, seed in ((alice, "Original", 1), (carol, "Original (carol remix)", 2)):
            path = make_mp3(tmp_path / f"{seed}.mp3", 4, seed)
            track = (
                await app.share.share_file(path, who, Declaration(title=title, genre="synthwave"), filename=path.name)
            ).track
            await app.tracks.set_verdict(track.id, Verdict.DECLARED, "declared by the sharer")
            shared.append(await app.tracks.get(track.id) or track)
        parent, child = shared
        await app.curation.lineage.link(child, parent.cid, Relation.REMIX)

        def told() -> list[dict[str, object]]:
            return [
                r.json for r in fake.sent("POST", "/messages") if "your track" in str((r.json or {}).get("content"))
            ]

        async def posted() -> bool:
            return bool(told())

        await eventually(posted, 60, "the remix announcement")
        body = told()[0]
        assert str(body["content"]).startswith(f"🔁 <@{alice.user_id}>, your track Original has a new remix")
        allowed = body["allowed_mentions"]
        assert (
            isinstance(allowed, dict)
            and [str(u) for u in allowed.get("users", [])] == [alice.user_id]
            and allowed.get("parse") == []
        )
