"""The site's curation: the player's play report feeds recommendations; boosts and remix lineage on pages."""

from __future__ import annotations

import html
from pathlib import Path

from core.curation_ports import Relation
from core.model import Declaration, Verdict
from core.recommend import Because
from tests.integration.test_web_pages import site
from tests.support.audio import make_mp3
from tests.support.factories import member


async def test_the_players_play_report_is_counted_once_and_feeds_discover(tmp_path: Path) -> None:
    async with site(tmp_path) as s:
        app = s.instance.app
        assert app.curation is not None
        other = (
            await app.share.share_file(
                make_mp3(tmp_path / "c.mp3", 5, 3), member("carol"), Declaration(title="Unplayed"), filename="c.mp3"
            )
        ).track
        await app.tracks.set_verdict(other.id, Verdict.DECLARED, "declared by the sharer")

        status, page, _ = await s.get(f"/tracks/{s.public.id}")
        assert status == 200 and f'data-play="/tracks/{s.public.id}/play"' in page
        status, script, headers = await s.get("/static/play.js")
        assert status == 200 and "javascript" in headers["Content-Type"] and "fetch(" in script

        play = f"{s.base}/tracks/{s.public.id}/play"
        for _ in range(2):  # the second from the same address within half an hour is not counted
            async with s.http.post(play, headers={"Origin": s.base}) as response:
                assert response.status == 204
        async with s.http.post(play, headers={"Origin": "https://elsewhere.example"}) as response:
            assert response.status == 403
        async with s.http.post(f"{s.base}/tracks/{s.hidden.id}/play") as response:
            assert response.status == 404
        assert [t for t, _ in await app.curation.store.plays_since(None)] == [s.public.id]

        found = await app.curation.recommendations.discover(member("newcomer"))
        assert [r.track.id for r in found[:2]] == [s.public.id, other.id]
        assert found[0].because is Because.POPULAR


async def test_pages_show_boosts_and_the_remix_lineage(tmp_path: Path) -> None:
    async with site(tmp_path) as s:
        app = s.instance.app
        assert app.curation is not None
        remix = (
            await app.share.share_file(
                make_mp3(tmp_path / "r.mp3", 5, 4),
                member("dave"),
                Declaration(title="Night drive (dave remix)", genre="synthwave"),
                filename="r.mp3",
            )
        ).track
        await app.tracks.set_verdict(remix.id, Verdict.DECLARED, "declared by the sharer")
        await app.curation.lineage.link(remix, s.public.cid, Relation.REMIX)
        for curator in ("erin", "frank"):
            await app.curation.reputation.boost(s.public.id, member(curator), moderator=True)

        status, page, _ = await s.get(f"/tracks/{s.public.id}")
        assert status == 200 and "boosted by 2 curators" in page
        assert "1 derived track" in page and f'href="/tracks/{remix.id}"' in page
        status, child, _ = await s.get(f"/tracks/{remix.id}")
        assert "A remix of" in child and f'href="/tracks/{s.public.id}"' in child
        assert html.escape(s.public.title, quote=False) in child
        for path in ("/", "/genres/synthwave"):
            status, listing, _ = await s.get(path)
            assert status == 200 and "boosted by 2 curators" in listing, path
