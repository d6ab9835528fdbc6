"""The public site of a real instance (SQLite, the blob pool, real audio): pages, blobs, feeds, metrics."""

from __future__ import annotations

import contextlib
import html
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
import feedparser
from multidict import CIMultiDict

from bots.instance import Instance
from bots.runtime import open_instance
from bots.web.server import WebServer
from bots.web.site import web_server_for
from config import load_settings
from core.model import Declaration, Track, Verdict
from core.voting_model import RoundRules
from tests.support.audio import make_mp3
from tests.support.factories import member
from tests.support.instances import write_config

HOSTILE = "<script>alert(1)</script> @everyone"


@dataclass
class Site:
    instance: Instance
    web: WebServer
    base: str
    http: aiohttp.ClientSession
    public: Track  # accepted, hostile title, synthwave, with a prompt
    hidden: Track  # quarantined (waiting for review)
    audio: bytes

    async def get(self, path: str, **headers: str) -> tuple[int, str, CIMultiDict[str]]:
        async with self.http.get(self.base + path, headers=headers) as response:
            return response.status, await response.text(), CIMultiDict(response.headers)

    async def raw(self, path: str, **headers: str) -> tuple[int, bytes, CIMultiDict[str]]:
        async with self.http.get(self.base + path, headers=headers) as response:
            return response.status, await response.read(), CIMultiDict(response.headers)


@contextlib.asynccontextmanager
async def site(tmp_path: Path, public_url: str | None = None) -> AsyncIterator[Site]:
    http_table = {"public_url": public_url} if public_url else {}
    config = write_config(tmp_path / "c.toml", tmp_path / "data", **({"http": http_table} if http_table else {}))
    async with open_instance(load_settings(config, environ={})) as instance:
        app = instance.app
        path = make_mp3(tmp_path / "a.mp3", 6, 1)
        public = (
            await app.share.share_file(
                path,
                member("alice"),
                Declaration(title=HOSTILE, prompt="dreamy synth night drive", genre="synthwave", generator="suno"),
                filename="a.mp3",
            )
        ).track
        hidden_path = make_mp3(tmp_path / "b.mp3", 4, 2)
        hidden = (
            await app.share.share_file(
                hidden_path, member("bob"), Declaration(title="Secret quarantined", genre="synthwave"), filename="b.mp3"
            )
        ).track
        await app.tracks.set_verdict(public.id, Verdict.DECLARED, "declared by the sharer")
        await app.tracks.set_verdict(hidden.id, Verdict.QUARANTINED, "waiting for review")
        web = web_server_for(instance)
        await web.start("127.0.0.1", 0)
        try:
            async with aiohttp.ClientSession() as http:
                yield Site(
                    instance,
                    web,
                    f"http://127.0.0.1:{web.port}",
                    http,
                    await app.tracks.get(public.id) or public,
                    hidden,
                    path.read_bytes(),
                )
        finally:
            await web.stop()


async def test_pages_show_accepted_tracks_only_and_escape_what_members_wrote(tmp_path: Path) -> None:
    async with site(tmp_path) as s:
        status, home, _ = await s.get("/")
        assert status == 200
        assert html.escape(HOSTILE, quote=False) in home and "<script>alert" not in home
        assert f"/tracks/{s.public.id}" in home and "Secret quarantined" not in home
        assert 'href="/genres/synthwave"' in home

        status, page, headers = await s.get(f"/tracks/{s.public.id}")
        assert status == 200 and headers["Cache-Control"].startswith("public")
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self';" in policy and "unsafe-inline" not in policy and "default-src 'none'" in policy
        assert page.count("<script") == 1 and '<script src="/static/play.js" defer></script>' in page
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "<script>alert" not in page
        assert f'<meta property="og:audio" content="{s.base}/blobs/{s.public.cid}">' in page
        assert '<meta property="og:audio:type" content="audio/mpeg">' in page
        assert '<meta property="og:type" content="music.song">' in page
        assert f'src="/blobs/{s.public.cid}"' in page and "dreamy synth night drive" in page
        assert "Provenance" in page and s.public.verdict_reason in page
        assert f'<meta property="og:image" content="{s.base}/cover.png">' in page
        status, cover, headers = await s.raw("/cover.png")
        assert status == 200 and headers["Content-Type"] == "image/png" and cover.startswith(b"\x89PNG\r\n\x1a\n")

        for path in (f"/tracks/{s.hidden.id}", f"/blobs/{s.hidden.cid}"):
            assert (await s.get(path))[0] == 404, path

        status, genre, _ = await s.get("/genres/synthwave")
        assert status == 200 and f"/tracks/{s.public.id}" in genre and "Secret quarantined" not in genre
        assert (await s.get("/genres/no-such-genre"))[0] == 404

        status, found, _ = await s.get("/search?q=dreamy")
        assert status == 200 and f"/tracks/{s.public.id}" in found
        assert "Secret" not in (await s.get("/search?q=secret"))[1].split("<main")[1]

        status, prompts, _ = await s.get("/prompts?q=dreamy")
        assert status == 200 and "dreamy synth night drive" in prompts


async def test_a_taken_down_track_leaves_every_page(tmp_path: Path) -> None:
    async with site(tmp_path) as s:
        await s.instance.app.moderation.takedown(s.public.id, member("mod"), "test")
        assert (await s.get(f"/tracks/{s.public.id}"))[0] == 404
        assert f"/tracks/{s.public.id}" not in (await s.get("/"))[1]
        assert f"/tracks/{s.public.id}" not in (await s.get("/feeds/tracks.atom"))[1]


async def test_blobs_answer_range_requests_with_etag_and_immutable_caching(tmp_path: Path) -> None:
    async with site(tmp_path) as s:
        path = f"/blobs/{s.public.cid}"
        size = len(s.audio)
        status, body, headers = await s.raw(path)
        assert status == 200 and body == s.audio
        assert headers["Content-Type"] == "audio/mpeg" and headers["Accept-Ranges"] == "bytes"
        assert headers["ETag"] == f'"{s.public.cid}"' and "immutable" in headers["Cache-Control"]

        status, body, headers = await s.raw(path, Range="bytes=100-1099")
        assert status == 206 and body == s.audio[100:1100]
        assert headers["Content-Range"] == f"bytes 100-1099/{size}" and headers["Content-Length"] == "1000"

        status, body, headers = await s.raw(path, Range="bytes=-500")
        assert status == 206 and body == s.audio[-500:]
        status, body, headers = await s.raw(path, Range=f"bytes={size - 10}-")
        assert status == 206 and body == s.audio[-10:]
        status, _, headers = await s.raw(path, Range=f"bytes={size}-")
        assert status == 416 and headers["Content-Range"] == f"bytes */{size}"

        status, body, _ = await s.raw(path, **{"If-None-Match": f'"{s.public.cid}"'})
        assert status == 304 and body == b""

        async with s.http.head(s.base + path) as response:
            assert response.status == 200 and response.headers["Content-Length"] == str(size)
            assert await response.read() == b""


async def test_round_page_keeps_anonymous_entrants_hidden_until_the_results(tmp_path: Path) -> None:
    async with site(tmp_path) as s:
        voting = s.instance.app.voting
        assert voting is not None
        mod = member("mod")
        rnd = await voting.start(
            RoundRules(theme="Night <b>drive</b>", anonymous=True), mod, "room", timedelta(hours=1), timedelta(hours=1)
        )
        await voting.submit(str(rnd.id), s.public.id, member("alice"))
        status, page, _ = await s.get(f"/rounds/{rnd.id}")
        assert status == 200 and "Night &lt;b&gt;drive&lt;/b&gt;" in page
        assert "by anonymous" in page and "Alice" not in page.split("<main")[1]
        assert f"/rounds/{rnd.id}" in (await s.get("/"))[1]
        # the track page names its sharer: it does not say the track is in a round that hides entrants
        assert f"/rounds/{rnd.id}" not in (await s.get(f"/tracks/{s.public.id}"))[1]
        await voting.close_phase(str(rnd.id), mod)
        await voting.close_phase(str(rnd.id), mod)
        status, page, _ = await s.get(f"/rounds/{rnd.id}")
        assert status == 200 and "Results" in page and "by Alice" in page
        assert f"/rounds/{rnd.id}" in (await s.get(f"/tracks/{s.public.id}"))[1]
        assert (await s.get("/rounds/999"))[0] == 404


async def test_feeds_parse_and_their_enclosures_are_the_tracks_bytes(tmp_path: Path) -> None:
    async with site(tmp_path, public_url="http://127.0.0.1:1") as s:
        app = s.instance.app
        assert app.voting is not None and app.digest is not None
        await app.voting.vote_track(s.public.id, member("carol"), 1)
        digest = await app.digest.publish_now()
        week = f"{digest.week_ending:%Y-%m-%d}"

        atom = feedparser.parse((await s.raw("/feeds/tracks.atom"))[1])
        assert not atom.bozo, atom.bozo_exception
        assert [e.title for e in atom.entries] == [HOSTILE]
        _check_enclosure(atom.entries[0], s)

        genre = feedparser.parse((await s.raw("/feeds/genres/synthwave.atom"))[1])
        assert not genre.bozo and [e.title for e in genre.entries] == [HOSTILE]
        assert (await s.raw("/feeds/genres/nope.atom"))[0] == 404

        status, body, headers = await s.raw("/feeds/digest.xml")
        assert status == 200 and headers["Content-Type"].startswith("application/rss+xml")
        podcast = feedparser.parse(body)
        assert not podcast.bozo, podcast.bozo_exception
        assert podcast.feed.podcast_medium == "music" and podcast.feed.podcast_guid
        assert podcast.feed.link == "http://127.0.0.1:1/"
        assert podcast.feed.image.href == "http://127.0.0.1:1/cover.png"
        assert b'<atom:link href="http://127.0.0.1:1/feeds/digest.xml" rel="self"' in body
        assert b"<itunes:explicit>no</itunes:explicit>" in body and b'<itunes:category text="Music"/>' in body
        [item] = podcast.entries
        assert item.title == f"Week ending {week} · #1 · {HOSTILE}"
        assert item.itunes_duration == "6"
        assert f"http://127.0.0.1:1/digests/{week}" in item.description
        _check_enclosure(item, s)

        status, page, _ = await s.get(f"/digests/{week}")
        assert status == 200 and f"/tracks/{s.public.id}" in page and "<script>alert" not in page
        async with s.http.get(s.base + "/digests", allow_redirects=False) as response:
            assert response.status == 302 and response.headers["Location"] == f"/digests/{week}"
        assert f"/digests/{week}" in (await s.get("/"))[1]


def _check_enclosure(entry: feedparser.FeedParserDict, s: Site) -> None:
    [enclosure] = entry.enclosures
    assert enclosure.type == "audio/mpeg" and int(enclosure.length) == len(s.audio)
    # public_url names the site's address; fetch the same path from the test server
    assert enclosure.href == f"http://127.0.0.1:1/blobs/{s.public.cid}"


async def test_enclosure_urls_fetch_the_cids_bytes(tmp_path: Path) -> None:
    async with site(tmp_path) as s:
        atom = feedparser.parse((await s.raw("/feeds/tracks.atom"))[1])
        [enclosure] = atom.entries[0].enclosures
        assert enclosure.href.startswith(s.base)
        async with s.http.get(enclosure.href) as response:
            assert response.status == 200 and await response.read() == s.audio


async def test_metrics_report_what_an_operator_watches(tmp_path: Path) -> None:
    async with site(tmp_path) as s:
        await s.get("/")
        await s.get(f"/tracks/{s.public.id}")
        status, text, headers = await s.get("/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        assert "wavepool_tracks 2.0" in text
        assert 'wavepool_tracks_by_verdict{verdict="declared"} 1.0' in text
        assert 'wavepool_tracks_by_verdict{verdict="quarantined"} 1.0' in text
        assert 'wavepool_ingest_stage_runs_total{stage="quality"} 2.0' in text
        assert 'wavepool_http_request_seconds_count{route="/",status="200"} 1.0' in text
        assert 'route="/tracks/{id}",status="200"' in text


async def test_metrics_report_parts_and_the_events_each_has_not_handled(tmp_path: Path) -> None:
    async with site(tmp_path) as s:
        events = s.instance.app.events
        last = await events.last_seq()
        assert last >= 2
        await events.set_checkpoint("discord", last - 1)
        web = WebServer(s.instance.app, lambda: {"discord": "ok", "matrix": "not logged in yet"})
        await web.start("127.0.0.1", 0)
        try:
            async with s.http.get(f"http://127.0.0.1:{web.port}/metrics") as response:
                text = await response.text()
        finally:
            await web.stop()
        assert 'wavepool_part_up{part="discord"} 1.0' in text and 'wavepool_part_up{part="matrix"} 0.0' in text
        assert 'wavepool_events_waiting{subscriber="discord"} 1.0' in text
        assert f'wavepool_events_waiting{{subscriber="matrix"}} {float(last)}' in text
