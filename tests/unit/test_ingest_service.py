"""The ingest flow with in-memory ports and a scripted inspector: caps, duplicates, verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.clock import ManualClock
from core.errors import NotAudioError, NotFoundError, TooLargeError, TooLongError
from core.model import Declaration, InstanceId, Sharer, TrackStatus, Verdict
from core.ports import TagInfo
from core.services.ingest import IngestLimits, IngestService
from core.services.provenance import ProvenanceRules
from storage.memory import MemoryBlobPool, MemoryTrackRepository
from storage.memory_events import MemoryEventLog
from tests.support.fake_media import FakeInspector

ALICE = Sharer("matrix", "@alice:hs", "Alice")
BOB = Sharer("matrix", "@bob:hs", "Bob")


@pytest.fixture
def tracks() -> MemoryTrackRepository:
    return MemoryTrackRepository()


@pytest.fixture
def service(tracks: MemoryTrackRepository) -> IngestService:
    inspector = FakeInspector(
        {
            "suno.mp3": TagInfo(
                format="id3",
                title="Neon",
                comment="made with suno; created=2026-01-01; id=0b7c2f4e-1111-4a4a-9f9f-123456789abc",
            )
        }
    )
    return IngestService(
        MemoryBlobPool(),
        tracks,
        inspector,
        ManualClock(),
        InstanceId("wp-test"),
        IngestLimits(max_bytes=1000, max_duration_s=600, min_duration_s=1, near_duplicate_threshold=0.85),
        ProvenanceRules(),
        MemoryEventLog(),
    )


def _file(tmp_path: Path, name: str, head: str, size: int = 100) -> Path:
    path = tmp_path / name
    path.write_bytes((head + "\n").encode().ljust(size, b"x"))
    return path


async def test_caps_are_checked_with_clear_words(service: IngestService, tmp_path: Path) -> None:
    with pytest.raises(TooLargeError, match="accepts up to"):
        await service.ingest_file(_file(tmp_path, "big.mp3", "AUDIO 30 a", 2000), ALICE)
    with pytest.raises(TooLongError, match="the limit is 10:00"):
        await service.ingest_file(_file(tmp_path, "long.mp3", "AUDIO 900 a"), ALICE)
    with pytest.raises(TooLongError, match="too short"):
        await service.ingest_file(_file(tmp_path, "short.mp3", "AUDIO 0.2 a"), ALICE)
    with pytest.raises(NotAudioError):
        await service.ingest_file(_file(tmp_path, "text.mp3", "hello"), ALICE)


async def test_duplicates_and_verdicts(service: IngestService, tmp_path: Path) -> None:
    first = await service.ingest_file(_file(tmp_path, "a.mp3", "AUDIO 30 same"), ALICE, filename="a.mp3")
    assert first.is_new and first.track.verdict is Verdict.DECLARED and first.track.title == "a"
    again = await service.ingest_file(_file(tmp_path, "a.mp3", "AUDIO 30 same"), BOB)
    assert not again.is_new and "first shared by Alice" in again.message
    reupload = await service.ingest_file(_file(tmp_path, "b.mp3", "AUDIO 30 same", 120), BOB)
    assert reupload.track.verdict is Verdict.QUARANTINED and "another member" in reupload.track.verdict_reason
    suno = await service.ingest_file(
        _file(tmp_path, "suno.mp3", "AUDIO 30 other"), ALICE, Declaration(generator="suno")
    )
    # tags alone are a claim: declared until Suno itself serves the same audio
    assert suno.track.verdict is Verdict.DECLARED and suno.track.generator_song_id


async def test_genre_hook_and_taken_down_bytes(
    service: IngestService, tracks: MemoryTrackRepository, tmp_path: Path
) -> None:
    service = IngestService(
        MemoryBlobPool(),
        tracks,
        FakeInspector({}),
        ManualClock(),
        InstanceId("wp-test"),
        service.limits,
        ProvenanceRules(),
        MemoryEventLog(),
        classify_genre=lambda track, tag: "synthwave" if "80s" in (track.prompt or "") else None,
    )
    result = await service.ingest_file(_file(tmp_path, "c.mp3", "AUDIO 30 c"), ALICE, Declaration(prompt="80s drive"))
    assert result.track.genre == "synthwave"
    await tracks.set_status(result.track.id, TrackStatus.TAKEN_DOWN)
    with pytest.raises(NotFoundError, match="taken down"):
        await service.ingest_file(_file(tmp_path, "c.mp3", "AUDIO 30 c"), BOB)
