"""``core.ports.MediaInspector`` with ffmpeg, ffprobe, mutagen, c2pa-python and fpcalc."""

from __future__ import annotations

from pathlib import Path

from core.model import AudioInfo, Fingerprint, QualityReport
from core.ports import C2paInfo, TagInfo
from storage.media.c2pa_reader import read_c2pa
from storage.media.fingerprint import fingerprint
from storage.media.probe import probe
from storage.media.quality import quality
from storage.media.sniff import sniff
from storage.media.tags import read_tags


class FfmpegMediaInspector:
    """Looks inside audio files with the real tools."""

    def __init__(self, trust_anchors_pem: str | None = None) -> None:
        self._anchors = trust_anchors_pem

    async def probe(self, path: Path) -> AudioInfo:
        return await probe(path)

    async def tags(self, path: Path) -> TagInfo:
        try:
            container = sniff(path).container
        except Exception:
            container = None
        return await read_tags(path, container)

    async def c2pa(self, path: Path, media_type: str) -> C2paInfo | None:
        return await read_c2pa(path, media_type, self._anchors)

    async def quality(self, path: Path) -> QualityReport:
        return await quality(path)

    async def fingerprint(self, path: Path) -> Fingerprint | None:
        return await fingerprint(path)
