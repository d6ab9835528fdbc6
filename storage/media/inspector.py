"""``core.ports.MediaInspector`` with ffmpeg, ffprobe, mutagen, c2pa-python and fpcalc.

``probe`` runs the one decode of a file (storage/media/analysis.py); ``quality`` and
``fingerprint`` of the same, unchanged file return what that decode measured instead of
decoding again. Results are kept for the last few files only, keyed by the file's
identity (device, inode, size, modification time), so a changed file is decoded afresh.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from pathlib import Path

from core.model import AudioInfo, Fingerprint, QualityReport
from core.ports import C2paInfo, TagInfo
from storage.media.analysis import Decoded
from storage.media.c2pa_reader import read_c2pa
from storage.media.probe import probe
from storage.media.sniff import sniff
from storage.media.tags import read_tags

KEPT = 16  # files whose analysis is kept: more than the ingests that run at once

_Key = tuple[str, int, int, int, int]


def _key(path: Path) -> _Key:
    stat = path.stat()
    return str(path.resolve()), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


class FfmpegMediaInspector:
    """Looks inside audio files with the real tools, decoding each file once."""

    def __init__(self, trust_anchors_pem: str | None = None) -> None:
        self._anchors = trust_anchors_pem
        self._analyses: OrderedDict[_Key, asyncio.Task[tuple[AudioInfo, Decoded]]] = OrderedDict()

    def _analysis(self, path: Path) -> asyncio.Task[tuple[AudioInfo, Decoded]]:
        key = _key(path)
        task = self._analyses.get(key)
        if task is None:
            task = asyncio.ensure_future(probe(path))
            self._analyses[key] = task
            while len(self._analyses) > KEPT:
                _, old = self._analyses.popitem(last=False)
                if old.done() and not old.cancelled():
                    old.exception()  # retrieved, so an unused failure is not logged as lost
        else:
            self._analyses.move_to_end(key)
        return task

    async def probe(self, path: Path) -> AudioInfo:
        return (await asyncio.shield(self._analysis(path)))[0]

    async def tags(self, path: Path) -> TagInfo:
        try:
            container = sniff(path).container
        except Exception:
            container = None
        return await read_tags(path, container)

    async def c2pa(self, path: Path, media_type: str) -> C2paInfo | None:
        return await read_c2pa(path, media_type, self._anchors)

    async def quality(self, path: Path) -> QualityReport:
        return (await asyncio.shield(self._analysis(path)))[1].quality

    async def fingerprint(self, path: Path) -> Fingerprint | None:
        return (await asyncio.shield(self._analysis(path)))[1].fingerprint
