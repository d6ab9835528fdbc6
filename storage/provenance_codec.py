"""Plain forms of provenance v2 values for storage: fingerprints as packed uint32, pages as JSON."""

from __future__ import annotations

import array
import json
from collections.abc import Sequence
from typing import Any

from core.model import Cid, Fingerprint
from core.provenance_ports import GeneratorPage, LookupStatus, PageLookup


def pack_values(values: Sequence[int]) -> bytes:
    """Sub-fingerprints as little-endian-native uint32 bytes (4 bytes an item)."""
    return array.array("I", [v & 0xFFFFFFFF for v in values]).tobytes()


def unpack_values(blob: bytes) -> tuple[int, ...]:
    """Inverse of ``pack_values``."""
    packed = array.array("I")
    packed.frombytes(blob)
    return tuple(packed)


def page_to_json(page: GeneratorPage | None) -> str | None:
    """A page's facts without its fingerprint (stored apart, packed)."""
    if page is None:
        return None
    return json.dumps(
        {
            "generator": page.generator,
            "song_id": page.song_id,
            "page_url": page.page_url,
            "title": page.title,
            "creator": page.creator,
            "duration_s": page.duration_s,
            "audio_url": page.audio_url,
            "audio_cid": page.audio_cid,
            "facts": page.facts,
        }
    )


def lookup_from_row(
    status: str, detail: str, page_json: str | None, fp_duration: float | None, fp: bytes | None
) -> PageLookup:
    """Rebuild a cached lookup."""
    page = None
    if page_json:
        raw: dict[str, Any] = json.loads(page_json)
        fingerprint = Fingerprint(unpack_values(fp), float(fp_duration or 0.0)) if fp else None
        page = GeneratorPage(
            generator=str(raw["generator"]),
            song_id=str(raw["song_id"]),
            page_url=str(raw["page_url"]),
            title=raw.get("title"),
            creator=raw.get("creator"),
            duration_s=raw.get("duration_s"),
            audio_url=raw.get("audio_url"),
            audio_cid=Cid(raw["audio_cid"]) if raw.get("audio_cid") else None,
            fingerprint=fingerprint,
            facts=dict(raw.get("facts") or {}),
        )
    return PageLookup(LookupStatus(status), page, detail)
