"""Test audio, generated: seeded melodies with stdlib ``wave``, encoded by ffmpeg."""

from __future__ import annotations

import math
import random
import struct
import subprocess
import wave
from pathlib import Path

RATE = 44100


def make_wav(
    path: Path,
    seconds: float = 4.0,
    seed: int = 1,
    channels: int = 2,
    rate: int = RATE,
    amplitude: float = 0.4,
    silence: bool = False,
) -> Path:
    """A seeded melody (notes of a pentatonic scale, soft attack) as 16-bit PCM."""
    rng = random.Random(seed)
    scale = [220.0 * 2 ** (step / 12) for step in (0, 2, 4, 7, 9, 12, 14, 16)]
    note_len = int(rate * rng.choice((0.2, 0.25, 0.3)))
    frames = int(seconds * rate)
    data = bytearray()
    freq = rng.choice(scale)
    for index in range(frames):
        position = index % note_len
        if position == 0:
            freq = rng.choice(scale)
        envelope = min(1.0, position / 400) * (1 - position / note_len) ** 0.5
        value = (
            0.0
            if silence
            else amplitude
            * envelope
            * (math.sin(2 * math.pi * freq * index / rate) + 0.3 * math.sin(4 * math.pi * freq * index / rate))
        )
        sample = max(-32767, min(32767, int(value * 32767)))
        data += struct.pack("<h", sample) * channels
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(data))
    return path


def encode(src: Path, dst: Path, *codec_args: str) -> Path:
    """ffmpeg ``src`` → ``dst`` with the given codec arguments."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *codec_args, str(dst)], check=True, timeout=120)
    return dst


def _via_wav(dst: Path, seconds: float, seed: int, *codec_args: str, **wav_args: object) -> Path:
    wav = dst.with_name(dst.stem + f".src{seed}.wav")
    make_wav(wav, seconds, seed, **wav_args)  # type: ignore[arg-type]
    try:
        return encode(wav, dst, *codec_args)
    finally:
        wav.unlink(missing_ok=True)


def make_mp3(path: Path, seconds: float = 4.0, seed: int = 1) -> Path:
    """A 128 kb/s MP3 (with a Xing header, so truncation is detectable)."""
    return _via_wav(path, seconds, seed, "-c:a", "libmp3lame", "-b:a", "128k")


def make_flac(path: Path, seconds: float = 4.0, seed: int = 1) -> Path:
    """A FLAC file."""
    return _via_wav(path, seconds, seed, "-c:a", "flac")


def make_ogg(path: Path, seconds: float = 4.0, seed: int = 1) -> Path:
    """An Ogg Opus file."""
    return _via_wav(path, seconds, seed, "-c:a", "libopus", "-b:a", "96k")


def make_m4a(path: Path, seconds: float = 4.0, seed: int = 1) -> Path:
    """An AAC file in MP4."""
    return _via_wav(path, seconds, seed, "-c:a", "aac", "-b:a", "128k")


def make_clipping_mp3(path: Path, seconds: float = 4.0, seed: int = 1) -> Path:
    """A melody driven far into clipping."""
    return _via_wav(
        path,
        seconds,
        seed,
        "-af",
        "volume=18dB,alimiter=limit=1:level=false",
        "-c:a",
        "libmp3lame",
        "-b:a",
        "192k",
        amplitude=0.9,
    )


def make_silence_mp3(path: Path, seconds: float = 4.0) -> Path:
    """Silence."""
    return _via_wav(path, seconds, 0, "-c:a", "libmp3lame", "-b:a", "128k", silence=True)


def make_suno_like_mp3(
    path: Path, song_id: str, title: str, artist: str, lyrics: str, created: str, seconds: float = 4.0, seed: int = 11
) -> Path:
    """An MP3 tagged the way Suno's downloads are (see docs/FACTS.md)."""
    from mutagen.id3 import COMM, ID3, TIT2, TPE1, USLT, WOAS

    make_mp3(path, seconds, seed)
    tags = ID3()
    tags.add(TIT2(encoding=3, text=title))
    tags.add(TPE1(encoding=3, text=artist))
    tags.add(COMM(encoding=3, lang="eng", desc="", text=f"made with suno; created={created}; id={song_id}"))
    tags.add(USLT(encoding=3, lang="eng", desc="", text=lyrics))
    tags.add(WOAS(url=f"https://suno.com/song/{song_id}"))
    tags.save(str(path))
    return path


def truncate(path: Path, fraction: float = 0.5) -> Path:
    """Cut the file to ``fraction`` of its bytes, in place."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def make_long_mp3(path: Path, seconds: float = 60.0, seed: int = 1) -> Path:
    """A long MP3 made by ffmpeg alone (fast): a seeded chord that changes every second."""
    rng = random.Random(seed)
    notes = [round(110 * 2 ** (rng.randrange(0, 24) / 12), 2) for _ in range(8)]
    steps = "+".join(f"0.2*sin(2*PI*{f}*t)*lt(mod(t\\,8)\\,{i + 1})*gte(mod(t\\,8)\\,{i})" for i, f in enumerate(notes))
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"aevalsrc={steps}|{steps}:s=44100:d={seconds}",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "128k",
            str(path),
        ],
        check=True,
        timeout=300,
    )
    return path
