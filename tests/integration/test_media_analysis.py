"""The media inspector decodes each file once, and what that decode measures is right."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from storage.media.inspector import FfmpegMediaInspector
from tests.support.audio import make_mp3, make_silence_mp3


def _tone_mp3(path: Path, seconds: float = 8.0) -> Path:
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:duration={seconds}",
            "-ac",
            "2",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "128k",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return path


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the programs the inspector starts."""
    names: list[str] = []
    real = asyncio.create_subprocess_exec

    async def counting(program: Any, *args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        names.append(Path(str(program)).name)
        return await real(program, *args, **kwargs)

    monkeypatch.setattr(asyncio, "create_subprocess_exec", counting)
    return names


async def test_probe_quality_and_fingerprint_share_one_decode(tmp_path: Path, spawned: list[str]) -> None:
    song = make_mp3(tmp_path / "song.mp3", 8, 5)
    inspector = FfmpegMediaInspector()
    info = await inspector.probe(song)
    quality, fingerprint = await asyncio.gather(inspector.quality(song), inspector.fingerprint(song))
    assert spawned.count("ffmpeg") == 1 and spawned.count("fpcalc") == 1
    assert abs(info.duration_s - 8.0) < 0.1
    assert quality.integrated_lufs is not None and quality.true_peak_dbtp is not None
    assert fingerprint is not None and fingerprint.duration_s == pytest.approx(info.duration_s, abs=0.01)


async def test_fingerprint_matches_fpcalc_on_the_file(tmp_path: Path) -> None:
    song = make_mp3(tmp_path / "song.mp3", 12, 7)
    fingerprint = await FfmpegMediaInspector().fingerprint(song)
    direct = subprocess.run(["fpcalc", "-raw", "-json", "-length", "180", str(song)], capture_output=True, timeout=60)
    assert fingerprint is not None
    assert list(fingerprint.values) == json.loads(direct.stdout)["fingerprint"]


async def test_a_changed_file_is_decoded_again(tmp_path: Path) -> None:
    path = tmp_path / "track.mp3"
    make_mp3(path, 4, 1)
    inspector = FfmpegMediaInspector()
    first = await inspector.fingerprint(path)
    make_mp3(path, 6, 2)
    second = await inspector.fingerprint(path)
    assert (await inspector.probe(path)).duration_s == pytest.approx(6.0, abs=0.1)
    assert first != second


async def test_silent_fraction_and_static_share_tell_silence_and_a_held_tone_from_music(tmp_path: Path) -> None:
    inspector = FfmpegMediaInspector()
    music = await inspector.quality(make_mp3(tmp_path / "music.mp3", 8, 3))
    silence = await inspector.quality(make_silence_mp3(tmp_path / "silence.mp3", 4))
    tone = await inspector.quality(_tone_mp3(tmp_path / "tone.mp3"))
    assert silence.silent_fraction is not None and silence.silent_fraction > 0.9
    assert music.silent_fraction is not None and music.silent_fraction < 0.1
    assert tone.static_share is not None and music.static_share is not None
    assert tone.static_share > 0.9 > music.static_share
