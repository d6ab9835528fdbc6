"""Generator confirmation with real audio: a locally served Suno page (pinned as suno.com) decides.

The file's tags say "made with suno; id=…" (anyone can write that); the verdict is
``declared`` at ingest and changes only when Suno's page for that song id is fetched,
its audio fingerprinted with fpcalc and compared with the file.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web

from core.clock import ManualClock
from core.model import Sharer, Verdict
from core.provenance_ports import ConfirmationState
from core.services.confirmation import ConfirmationService
from core.services.ingest import IngestLimits, IngestService
from core.services.provenance import ProvenanceRules
from storage.blob_pool import DiskBlobPool
from storage.links.generator_confirmers import build_confirmers
from storage.links.link_fetcher import SafeLinkFetcher
from storage.media.inspector import FfmpegMediaInspector
from storage.sqlite.confirmation_store import SqliteConfirmationStore
from storage.sqlite.database import Database
from storage.sqlite.event_log import SqliteEventLog
from storage.sqlite.track_repository import SqliteTrackRepository
from tests.integration.test_links import (
    SONG_ID,
    SUNO_HOSTS,
    allowed_settings,
    suno_page_with_flight_json,
)
from tests.support.audio import make_mp3, make_suno_like_mp3
from tests.support.link_server import LinkServer

pytestmark = pytest.mark.skipif(
    shutil.which("fpcalc") is None or shutil.which("ffmpeg") is None, reason="ffmpeg and fpcalc are needed"
)

ALICE = Sharer("matrix", "@alice:hs", "Alice")


@dataclass
class Rig:
    server: LinkServer
    ingest: IngestService
    confirmations: ConfirmationService
    store: SqliteConfirmationStore
    tracks: SqliteTrackRepository
    clock: ManualClock
    tmp: Path

    def serve_page(self, audio: bytes) -> None:
        self.server.add_html(f"/song/{SONG_ID}", suno_page_with_flight_json(self.server.port))
        self.server.add_bytes(f"/{SONG_ID}.mp3", audio)

    def tagged_file(self, seed: int = 11) -> Path:
        return make_suno_like_mp3(
            self.tmp / f"upload{seed}.mp3",
            SONG_ID,
            "Neon Highway",
            "Night Driver",
            "[Verse]\nNeon rain",
            "2026-01-01T00:00:00Z",
            seconds=6,
            seed=seed,
        )


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    server = await LinkServer().start()
    db = await Database.open(tmp_path / "db.sqlite3")
    clock = ManualClock()
    tracks = SqliteTrackRepository(db)
    inspector = FfmpegMediaInspector()
    fetcher = SafeLinkFetcher(allowed_settings(), host_map={**SUNO_HOSTS, "www.udio.com": "127.0.0.1"})
    confirmers = build_confirmers(
        ["suno", "udio"],
        fetcher,
        inspector,
        tmp_path / "confirm",
        20 * 1024 * 1024,
        {
            "suno": f"http://suno.com:{server.port}/song/{{song_id}}",
            "udio": f"http://www.udio.com:{server.port}/songs/{{song_id}}",
        },
    )
    store = SqliteConfirmationStore(db)
    confirmations = ConfirmationService(store, confirmers, tracks, clock)
    ingest = IngestService(
        DiskBlobPool(tmp_path / "pool"),
        tracks,
        inspector,
        clock,
        "inst",  # type: ignore[arg-type]
        IngestLimits(),
        ProvenanceRules(),
        SqliteEventLog(db),
        confirmations=confirmations,
    )
    try:
        yield Rig(server, ingest, confirmations, store, tracks, clock, tmp_path)
    finally:
        await db.close()
        await server.stop()


async def test_tags_alone_are_declared_and_the_same_audio_on_the_suno_page_verifies(rig: Rig) -> None:
    upload = rig.tagged_file()
    result = await rig.ingest.ingest_file(upload, ALICE)
    assert result.track.verdict is Verdict.DECLARED, result.message
    # Suno serves the same audio (its own file, without the tags the sharer's copy has).
    rig.serve_page(make_mp3(rig.tmp / "page.mp3", 6, 11).read_bytes())
    outcomes = await rig.confirmations.confirm_due(rig.clock.now())
    assert [o.state for o in outcomes] == [ConfirmationState.CONFIRMED]
    assert outcomes[0].verdict_changed and outcomes[0].verdict_after is Verdict.VERIFIED
    track = await rig.tracks.get(result.track.id)
    assert track is not None and track.verdict is Verdict.VERIFIED and "suno itself serves" in track.verdict_reason
    proof = [e for e in track.evidence if e.source == "confirmation"]
    assert proof and proof[0].strength.value == "strong"
    assert proof[0].data["similarity"] >= 0.85 and proof[0].data["title"] == "Neon Highway"
    record = await rig.store.get(result.track.id)
    assert record is not None and record.state is ConfirmationState.CONFIRMED
    assert await rig.confirmations.confirm_due(rig.clock.now() + timedelta(days=1)) == []


async def test_a_suno_page_with_different_audio_sends_the_track_to_review(rig: Rig) -> None:
    result = await rig.ingest.ingest_file(rig.tagged_file(), ALICE)
    rig.serve_page(make_mp3(rig.tmp / "other.mp3", 6, 12).read_bytes())
    outcomes = await rig.confirmations.confirm_due(rig.clock.now())
    assert [o.state for o in outcomes] == [ConfirmationState.MISMATCH]
    track = await rig.tracks.get(result.track.id)
    assert track is not None and track.verdict is Verdict.QUARANTINED
    assert "serves different audio" in track.verdict_reason
    assert any(e.claim == "generator-conflict:suno" and e.strength.value == "against" for e in track.evidence)


async def test_a_song_page_that_404s_leaves_the_track_declared(rig: Rig) -> None:
    result = await rig.ingest.ingest_file(rig.tagged_file(), ALICE)
    outcomes = await rig.confirmations.confirm_due(rig.clock.now())  # no routes: the server answers 404
    assert [o.state for o in outcomes] == [ConfirmationState.NOT_PUBLIC]
    track = await rig.tracks.get(result.track.id)
    assert track is not None and track.verdict is Verdict.DECLARED
    assert any(e.claim == "generator-not-public:suno" for e in track.evidence)


async def test_an_unreachable_page_is_retried_with_backoff_and_confirms_when_it_is_back(rig: Rig) -> None:
    result = await rig.ingest.ingest_file(rig.tagged_file(), ALICE)

    async def down(_: web.Request) -> web.StreamResponse:
        return web.Response(status=503, text="maintenance")

    rig.server.routes[f"/song/{SONG_ID}"] = down
    first = await rig.confirmations.confirm_due(rig.clock.now())
    assert [o.state for o in first] == [ConfirmationState.PENDING]
    track = await rig.tracks.get(result.track.id)
    assert track is not None and track.verdict is Verdict.DECLARED
    record = await rig.store.get(result.track.id)
    assert record is not None and record.attempts == 1 and record.due > rig.clock.now()
    assert await rig.confirmations.confirm_due(rig.clock.now()) == []  # not due yet: backoff
    rig.serve_page(make_mp3(rig.tmp / "page.mp3", 6, 11).read_bytes())
    rig.clock.advance(timedelta(minutes=2))
    again = await rig.confirmations.confirm_due(rig.clock.now())
    assert [o.state for o in again] == [ConfirmationState.CONFIRMED]
    track = await rig.tracks.get(result.track.id)
    assert track is not None and track.verdict is Verdict.VERIFIED


UDIO_ID = "q7RtY2mWx9PzKd4VbN8cLs"


def _udio_page(port: int) -> str:
    song = {
        "id": UDIO_ID,
        "title": "Harbor Lights",
        "artist": "tidewalker",
        "tags": ["ambient", "piano"],
        "song_path": f"http://www.udio.com:{port}/audio/{UDIO_ID}.mp3",
        "duration": 6.0,
        "prompt": "slow ambient piano by the sea",
    }
    return (
        '<html><head><meta property="og:title" content="Harbor Lights | Udio"></head><body>'
        f"<script>window.__DATA__ = {json.dumps({'songs': [song]})};</script></body></html>"
    )


async def test_a_udio_tagged_file_is_verified_by_its_udio_page(rig: Rig) -> None:
    from mutagen.id3 import COMM, ID3, TIT2, WOAS

    upload = make_mp3(rig.tmp / "udio.mp3", 6, 21)
    tags = ID3()
    tags.add(TIT2(encoding=3, text="Harbor Lights"))
    tags.add(COMM(encoding=3, lang="eng", desc="", text="made with udio"))
    tags.add(WOAS(url=f"https://www.udio.com/songs/{UDIO_ID}"))
    tags.save(str(upload))
    result = await rig.ingest.ingest_file(upload, ALICE)
    assert result.track.verdict is Verdict.DECLARED and result.track.generator_song_id == UDIO_ID
    rig.server.add_html(f"/songs/{UDIO_ID}", _udio_page(rig.server.port))
    rig.server.add_bytes(f"/audio/{UDIO_ID}.mp3", make_mp3(rig.tmp / "udio-page.mp3", 6, 21).read_bytes())
    outcomes = await rig.confirmations.confirm_due(rig.clock.now())
    assert [o.state for o in outcomes] == [ConfirmationState.CONFIRMED], outcomes
    track = await rig.tracks.get(result.track.id)
    assert track is not None and track.verdict is Verdict.VERIFIED and "udio itself serves" in track.verdict_reason
