"""A scripted ``MediaInspector`` for unit tests of the ingest flow (no ffmpeg)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.errors import NotAudioError
from core.model import AudioInfo, Fingerprint, QualityReport
from core.ports import C2paInfo, TagInfo


@dataclass
class FakeInspector:
    """Files starting with ``AUDIO`` are audio; the rest of the first line says how long and how it sounds.

    ``AUDIO 30 seed7`` is 30 s long with a fingerprint derived from ``seed7``.
    """

    tags_by_name: dict[str, TagInfo] = field(default_factory=dict)

    def _head(self, path: Path) -> list[str]:
        head = path.read_bytes()[:200].split(b"\n", 1)[0].decode("ascii", "replace").split()
        if not head or head[0] != "AUDIO":
            raise NotAudioError("this is not audio: it looks like a text file")
        return head

    async def probe(self, path: Path) -> AudioInfo:
        head = self._head(path)
        return AudioInfo("mp3", "mp3", "audio/mpeg", float(head[1]), float(head[1]), 44100, 2, 128000)

    async def tags(self, path: Path) -> TagInfo:
        return self.tags_by_name.get(path.name, TagInfo(format="none"))

    async def c2pa(self, path: Path, media_type: str) -> C2paInfo | None:
        return None

    async def quality(self, path: Path) -> QualityReport:
        return QualityReport(-14.0, -1.0, 0.0, 0.0)

    async def fingerprint(self, path: Path) -> Fingerprint | None:
        head = self._head(path)
        seed = sum(map(ord, head[2])) if len(head) > 2 else 1
        values = tuple((seed * 2654435761 * (i + 1)) & 0xFFFFFFFF for i in range(240))
        return Fingerprint(values, float(head[1]))
