"""Ingest with the real tools: formats, provenance verdicts, near-duplicates and bad input."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from mutagen.id3 import ID3, TXXX

from bots.runtime import Instance, open_instance
from config import load_settings
from core.errors import (
    CorruptAudioError,
    LowQualityError,
    NotAudioError,
    NotFoundError,
    TooLargeError,
    TooLongError,
)
from core.model import Declaration, Sharer, Verdict
from tests.support.audio import (
    encode,
    make_clipping_mp3,
    make_flac,
    make_m4a,
    make_mp3,
    make_ogg,
    make_silence_mp3,
    make_suno_like_mp3,
    make_wav,
    truncate,
)
from tests.support.c2pa_pki import RECORDED, make_pki, sign_audio

ALICE = Sharer("matrix", "@alice:hs", "Alice")
BOB = Sharer("matrix", "@bob:hs", "Bob")
PKI = make_pki("Trusted Generator")


@pytest.fixture
async def inst(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    anchors = tmp_path / "anchors.pem"
    anchors.write_text(PKI.root_pem)
    config = tmp_path / "wavepool.toml"
    config.write_text(
        f'[instance]\ndata_dir = "{tmp_path / "data"}"\n'
        f'[provenance]\ntrust_anchors = ["{anchors}"]\n'
        "[ingest]\nmax_mb = 12\nmax_duration_s = 60\nmin_duration_s = 1\n"
    )
    async with open_instance(load_settings(config, environ={})) as instance:
        yield instance


async def _ingest(inst: Instance, path: Path, sharer: Sharer = ALICE, **declared: str):
    return await inst.app.ingest.ingest_file(path, sharer, Declaration(**declared), filename=path.name)


@pytest.mark.parametrize(
    "maker,container,media_type",
    [
        (make_mp3, "mp3", "audio/mpeg"),
        (make_flac, "flac", "audio/flac"),
        (make_ogg, "ogg", "audio/ogg"),
        (make_m4a, "m4a", "audio/mp4"),
    ],
)
async def test_formats_probe_and_quality(inst: Instance, tmp_path: Path, maker, container, media_type) -> None:
    path = maker(tmp_path / f"song.{container}", seconds=3, seed=4)
    track = (await _ingest(inst, path)).track
    assert track.media_type == media_type
    assert 2.8 < track.duration_s < 3.3
    assert track.quality is not None and track.quality.integrated_lufs is not None
    assert track.quality.integrated_lufs < -5
    assert (await inst.app.pool.read(track.cid))[:4]


async def test_wav_is_sniffed_not_named(inst: Instance, tmp_path: Path) -> None:
    wav = make_wav(tmp_path / "looks_like.mp3", seconds=2)
    track = (await _ingest(inst, wav)).track
    assert track.media_type == "audio/wav" and track.title == "looks_like"


async def test_quality_sees_clipping_and_silence(inst: Instance, tmp_path: Path) -> None:
    clean = (await _ingest(inst, make_mp3(tmp_path / "clean.mp3", 3, 1))).track
    loud = (await _ingest(inst, make_clipping_mp3(tmp_path / "loud.mp3", 3, 2))).track
    assert loud.quality.clipping_share > 0.05 > clean.quality.clipping_share
    assert loud.quality.integrated_lufs > clean.quality.integrated_lufs
    with pytest.raises(LowQualityError, match=r"silent for 100% of its length \(3\.0 s"):
        await _ingest(inst, make_silence_mp3(tmp_path / "quiet.mp3", 3))


async def test_consistent_suno_tags_are_declared_until_suno_confirms(inst: Instance, tmp_path: Path) -> None:
    song = make_suno_like_mp3(
        tmp_path / "s.mp3", "0b7c2f4e-1111-4a4a-9f9f-123456789abc", "Neon", "alice", "la la", "2026-11-01T10:00:00Z"
    )
    track = (await _ingest(inst, song, generator="suno")).track
    # anyone can write these tags: only Suno's own page can upgrade this (test_generator_confirmation.py)
    assert track.verdict is Verdict.DECLARED and "not yet confirmed by suno" in track.verdict_reason
    assert track.generator == "suno" and track.lyrics == "la la" and track.artist == "alice"
    other = make_suno_like_mp3(
        tmp_path / "u.mp3", "1b7c2f4e-1111-4a4a-9f9f-123456789abc", "X", "bob", "", "2026", seed=12
    )
    conflict = (await _ingest(inst, other, BOB, generator="udio")).track
    assert conflict.verdict is Verdict.QUARANTINED and "declared udio" in conflict.verdict_reason


async def test_c2pa_trusted_untrusted_tampered_not_ai(inst: Instance, tmp_path: Path) -> None:
    trusted = sign_audio(make_mp3(tmp_path / "a.mp3", 3, 21), tmp_path / "trusted.mp3", "audio/mpeg", PKI)
    assert (await _ingest(inst, trusted)).track.verdict is Verdict.VERIFIED
    stranger = make_pki("Someone Else")
    untrusted = sign_audio(make_mp3(tmp_path / "b.mp3", 3, 22), tmp_path / "untrusted.mp3", "audio/mpeg", stranger)
    track = (await _ingest(inst, untrusted)).track
    assert track.verdict is Verdict.DECLARED and "not trusted" in track.verdict_reason
    raw = bytearray(sign_audio(make_mp3(tmp_path / "c.mp3", 3, 23), tmp_path / "t.mp3", "audio/mpeg", PKI).read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 16] = bytes(b ^ 0x55 for b in raw[middle : middle + 16])
    tampered = tmp_path / "tampered.mp3"
    tampered.write_bytes(bytes(raw))
    track = (await _ingest(inst, tampered)).track
    assert track.verdict is Verdict.QUARANTINED and "invalid" in track.verdict_reason
    recorded = sign_audio(
        make_mp3(tmp_path / "d.mp3", 3, 24), tmp_path / "rec.mp3", "audio/mpeg", PKI, source_type=RECORDED
    )
    track = (await _ingest(inst, recorded)).track
    assert track.verdict is Verdict.QUARANTINED and "not made by AI" in track.verdict_reason


async def test_exact_and_near_duplicates(inst: Instance, tmp_path: Path) -> None:
    original = make_mp3(tmp_path / "orig.mp3", seconds=12, seed=31)
    first = (await _ingest(inst, original)).track
    again = await _ingest(inst, original, BOB)
    assert not again.is_new and "first shared by Alice" in again.message
    reencoded = encode(original, tmp_path / "re.ogg", "-c:a", "libopus", "-b:a", "64k")
    copy = (await _ingest(inst, reencoded, BOB)).track
    assert copy.verdict is Verdict.QUARANTINED, copy.verdict_reason
    near = [e for e in copy.evidence if e.claim == "near-duplicate:other"]
    assert near and near[0].data["track_id"] == first.id and near[0].data["similarity"] > 0.85
    different = (await _ingest(inst, make_mp3(tmp_path / "new.mp3", 12, 99), BOB)).track
    assert different.verdict is Verdict.DECLARED


async def test_bad_input_changes_nothing(inst: Instance, tmp_path: Path) -> None:
    good = (await _ingest(inst, make_mp3(tmp_path / "good.mp3", 3, 41))).track
    before = await inst.app.pool.total_bytes()
    cases: list[tuple[Path, type[Exception], str]] = []
    text = tmp_path / "text.mp3"
    text.write_text("hello, this is not audio\n" * 50)
    cases.append((text, NotAudioError, "text"))
    html = tmp_path / "page.mp3"
    html.write_text("<!DOCTYPE html><html><body>nope</body></html>")
    cases.append((html, NotAudioError, "web page"))
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    cases.append((empty, NotAudioError, "empty"))
    noise = tmp_path / "random.mp3"
    noise.write_bytes(os.urandom(50_000))
    cases.append((noise, NotAudioError, "not audio"))
    cases.append((truncate(make_mp3(tmp_path / "cut.mp3", 10, 42), 0.5), CorruptAudioError, "truncated"))
    big = tmp_path / "big.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=80", "-ac", "2", str(big)],
        check=True,
        timeout=60,
    )  # ~14 MB, over the 12 MB cap
    cases.append((big, TooLargeError, "accepts up to 12 mb"))
    long = make_mp3(tmp_path / "long.mp3", 70, 43)
    cases.append((long, TooLongError, "long"))
    zero = make_mp3(tmp_path / "zero.mp3", 0.05, 44)
    cases.append((zero, TooLongError, "short"))
    for path, error, words in cases:
        with pytest.raises(error) as raised:
            await _ingest(inst, path, BOB)
        assert words in str(raised.value).lower(), (path.name, str(raised.value))
    assert await inst.app.tracks.count() == 1
    assert await inst.app.tracks.get(good.id) == good
    refs = await inst.app.tracks.referenced_cids()
    assert refs == {good.cid}
    assert await inst.app.pool.total_bytes() >= before


async def test_hostile_tags_and_names(inst: Instance, tmp_path: Path) -> None:
    path = make_mp3(tmp_path / "tagged.mp3", 3, 51)
    tags = ID3()
    tags.add(TXXX(encoding=3, desc="junk", text="x" * 10_000_000))
    tags.add(TXXX(encoding=0, desc="latin", text="caf\xe9 \xff"))
    tags.save(str(path))
    track = (await inst.app.ingest.ingest_file(path, ALICE, filename="../../etc/passwd.mp3")).track
    assert track.title == "passwd"
    assert all(len(e.detail) < 5000 for e in track.evidence)
    assert await inst.app.pool.local_path(track.cid) is not None


async def test_taken_down_track_cannot_come_back(inst: Instance, tmp_path: Path) -> None:
    path = make_mp3(tmp_path / "gone.mp3", 3, 61)
    track = (await _ingest(inst, path)).track
    await inst.app.moderation.takedown(track.id, BOB, "copyright")
    assert not await inst.app.pool.has(track.cid)
    with pytest.raises(NotFoundError, match="taken down"):
        await _ingest(inst, path, BOB)
