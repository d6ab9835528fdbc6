"""Quality gates with real ffmpeg/fpcalc: silence, one repeated tone and a noise floor are not tracks."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.clock import ManualClock
from core.errors import LowQualityError
from core.model import Declaration, Sharer, Verdict
from core.services.ingest import IngestLimits, IngestService
from core.services.provenance import ProvenanceRules
from core.services.quality_gate import LowQualityAction, QualityRules
from storage.blob_pool import DiskBlobPool
from storage.media.inspector import FfmpegMediaInspector
from storage.sqlite.database import Database
from storage.sqlite.event_log import SqliteEventLog
from storage.sqlite.track_repository import SqliteTrackRepository
from tests.support.audio import make_long_mp3, make_silence_mp3

pytestmark = pytest.mark.skipif(
    shutil.which("fpcalc") is None or shutil.which("ffmpeg") is None, reason="ffmpeg and fpcalc are needed"
)

ALICE = Sharer("discord", "1", "Alice")
SONG_ID = "0b7c2f4e-1111-4a4a-9f9f-123456789abc"


def _suno_tags(path: Path) -> Path:
    from mutagen.id3 import COMM, ID3, TIT2, WOAS

    tags = ID3()
    tags.add(TIT2(encoding=3, text="Silent Night"))
    tags.add(COMM(encoding=3, lang="eng", desc="", text=f"made with suno; created=2026-01-01T00:00:00Z; id={SONG_ID}"))
    tags.add(WOAS(url=f"https://suno.com/song/{SONG_ID}"))
    tags.save(str(path))
    return path


def _lavfi(path: Path, source: str, seconds: float = 8.0) -> Path:
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            source,
            "-t",
            str(seconds),
            "-c:a",
            "libmp3lame",
            "-b:a",
            "128k",
            str(path),
        ],
        check=True,
        timeout=120,
    )
    return path


async def _service(tmp_path: Path, rules: QualityRules) -> AsyncIterator[tuple[IngestService, DiskBlobPool]]:
    db = await Database.open(tmp_path / "db.sqlite3")
    pool = DiskBlobPool(tmp_path / "pool")
    try:
        yield (
            IngestService(
                pool,
                SqliteTrackRepository(db),
                FfmpegMediaInspector(),
                ManualClock(),
                "inst",  # type: ignore[arg-type]
                IngestLimits(),
                ProvenanceRules(),
                SqliteEventLog(db),
                quality_rules=rules,
            ),
            pool,
        )
    finally:
        await db.close()


@pytest.fixture
async def refusing(tmp_path: Path) -> AsyncIterator[tuple[IngestService, DiskBlobPool]]:
    async for pair in _service(tmp_path, QualityRules()):
        yield pair


async def test_silent_file_with_consistent_suno_tags_is_refused_and_nothing_is_kept(
    refusing: tuple[IngestService, DiskBlobPool], tmp_path: Path
) -> None:
    service, pool = refusing
    silent = _suno_tags(make_silence_mp3(tmp_path / "silent.mp3", 7))
    with pytest.raises(LowQualityError, match="silent for 100% of its length"):
        await service.ingest_file(silent, ALICE, Declaration(generator="suno"))
    assert [cid async for cid in pool.cids()] == []


async def test_silent_file_is_quarantined_with_the_evidence_when_configured(tmp_path: Path) -> None:
    async for service, _pool in _service(tmp_path, QualityRules(action=LowQualityAction.QUARANTINE)):
        silent = _suno_tags(make_silence_mp3(tmp_path / "silent.mp3", 7))
        track = (await service.ingest_file(silent, ALICE, Declaration(generator="suno"))).track
        assert track.verdict is Verdict.QUARANTINED and "silent for 100%" in track.verdict_reason
        evidence = [e for e in track.evidence if e.claim == "quality:silent"]
        assert evidence and evidence[0].strength.value == "against" and evidence[0].data["silence_s"] >= 6.5


async def test_one_repeated_tone_and_a_noise_floor_are_refused(
    refusing: tuple[IngestService, DiskBlobPool], tmp_path: Path
) -> None:
    service, _pool = refusing
    with pytest.raises(LowQualityError, match="one repeated tone"):
        await service.ingest_file(_lavfi(tmp_path / "tone.mp3", "sine=f=440:d=8"), ALICE)
    beep = "sine=f=1000:d=8,volume='if(lt(mod(t,1),0.5),1,0.05)':eval=frame"
    with pytest.raises(LowQualityError, match="one repeated tone"):
        await service.ingest_file(_lavfi(tmp_path / "beep.mp3", beep), ALICE)
    for colour in ("white", "pink", "brown"):
        noise = _lavfi(tmp_path / f"{colour}.mp3", f"anoisesrc=c={colour}:a=0.3:d=8")
        with pytest.raises(LowQualityError, match="noise floor"):
            await service.ingest_file(noise, ALICE)


async def test_music_passes_the_gates(refusing: tuple[IngestService, DiskBlobPool], tmp_path: Path) -> None:
    service, _pool = refusing
    chords = (await service.ingest_file(make_long_mp3(tmp_path / "chords.mp3", 12, 3), ALICE)).track
    assert chords.verdict is Verdict.DECLARED
    assert not [e for e in chords.evidence if e.source == "quality"]
