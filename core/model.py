"""The track record and everything it carries: frozen, portable, signable.

A ``Track`` holds every field a federation manifest needs (see ``core.manifest``), so the
record stored by ingest is the record signed and replicated later.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NewType

Cid = NewType("Cid", str)
TrackId = NewType("TrackId", str)
InstanceId = NewType("InstanceId", str)


class Verdict(enum.StrEnum):
    """What provenance concluded about a track."""

    VERIFIED = "verified"  # a trusted C2PA AI claim, or the generator itself serves the same audio
    DECLARED = "declared"  # claims anybody could make: the sharer's word, tags, page text
    QUARANTINED = "quarantined"  # needs a moderator
    REJECTED = "rejected"  # not audio, corrupt, over the caps


class Strength(enum.StrEnum):
    """How much a piece of evidence proves."""

    STRONG = "strong"  # cryptographically verified, or an exact match
    MODERATE = "moderate"  # a generator's own signature in the file or page
    WEAK = "weak"  # a claim anybody could make (declaration, plain tags)
    INFO = "info"  # context, no claim
    AGAINST = "against"  # evidence that speaks against the track's claim


class TrackStatus(enum.StrEnum):
    """Where a track stands in the pool."""

    ACTIVE = "active"
    TAKEN_DOWN = "taken_down"


@dataclass(frozen=True)
class Evidence:
    """One piece of provenance evidence: where it came from, what it says, how strong."""

    source: str  # container | tags | c2pa | page | declaration | duplicate | near_duplicate
    claim: str  # machine-readable claim, e.g. "generator:suno", "c2pa:trusted", "ai:declared"
    strength: Strength
    detail: str  # one line fit to show a member
    data: dict[str, Any] = field(default_factory=dict)  # JSON-able facts behind it

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (for storage and manifests)."""
        return {
            "source": self.source,
            "claim": self.claim,
            "strength": self.strength.value,
            "detail": self.detail,
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Evidence:
        """Inverse of ``to_dict``."""
        return cls(
            source=str(raw["source"]),
            claim=str(raw["claim"]),
            strength=Strength(raw["strength"]),
            detail=str(raw["detail"]),
            data=dict(raw.get("data") or {}),
        )


@dataclass(frozen=True)
class Sharer:
    """Who shared a track, on which platform."""

    platform: str  # discord | matrix | cli | web | federation
    user_id: str
    display_name: str


@dataclass(frozen=True)
class Declaration:
    """What the sharer said about the track when sharing it."""

    generator: str | None = None
    prompt: str | None = None
    style: str | None = None
    genre: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class AudioInfo:
    """What probing the bytes found: the real container, codec and duration."""

    container: str  # mp3 | flac | ogg | m4a | wav | webm
    codec: str
    media_type: str  # audio/mpeg ...
    duration_s: float  # decoded duration
    header_duration_s: float | None = None  # what the header claims
    sample_rate: int | None = None
    channels: int | None = None
    bit_rate: int | None = None


@dataclass(frozen=True)
class QualityReport:
    """One ffmpeg pass: loudness, peak, silence and clipping; measures for a quality gate."""

    integrated_lufs: float | None
    true_peak_dbtp: float | None
    silence_s: float
    clipping_share: float  # share of samples at or above -1 dBFS
    silent_fraction: float | None = None  # silence_s / decoded duration (0..1)
    static_share: float | None = None  # share of fingerprint steps that hold one sound (0..1): a held tone -> 1
    # Median per-frame spectral flatness (~0.5+ for noise, <0.01 for tonal music): measured for the
    # ingest quality gate, whose evidence keeps it; not stored or signed, so not compared.
    spectral_flatness: float | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return {
            "integrated_lufs": self.integrated_lufs,
            "true_peak_dbtp": self.true_peak_dbtp,
            "silence_s": self.silence_s,
            "clipping_share": self.clipping_share,
            "silent_fraction": self.silent_fraction,
            "static_share": self.static_share,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> QualityReport:
        """Inverse of ``to_dict``."""
        fraction, static = raw.get("silent_fraction"), raw.get("static_share")
        return cls(
            integrated_lufs=raw.get("integrated_lufs"),
            true_peak_dbtp=raw.get("true_peak_dbtp"),
            silence_s=float(raw.get("silence_s") or 0.0),
            clipping_share=float(raw.get("clipping_share") or 0.0),
            silent_fraction=float(fraction) if fraction is not None else None,
            static_share=float(static) if static is not None else None,
        )


@dataclass(frozen=True)
class Track:
    """One accepted (or quarantined) track: the record that is stored, signed and replicated."""

    id: TrackId
    cid: Cid
    size: int
    media_type: str
    duration_s: float
    title: str
    sharer: Sharer
    first_seen_at: datetime  # UTC
    origin_instance: InstanceId
    verdict: Verdict
    verdict_reason: str
    evidence: tuple[Evidence, ...] = ()
    artist: str | None = None
    genre: str | None = None
    tags: tuple[str, ...] = ()
    prompt: str | None = None
    style: str | None = None
    lyrics: str | None = None
    generator: str | None = None
    generator_song_id: str | None = None
    source_url: str | None = None
    quality: QualityReport | None = None
    status: TrackStatus = TrackStatus.ACTIVE


@dataclass(frozen=True)
class Share:
    """A sighting of a track: every time somebody shares the same bytes."""

    track_id: TrackId
    sharer: Sharer
    shared_at: datetime
    place: str  # channel / room id, or "cli"


@dataclass(frozen=True)
class Fingerprint:
    """A Chromaprint raw fingerprint: 32-bit sub-fingerprints, ~8 per second."""

    values: tuple[int, ...]
    duration_s: float


@dataclass(frozen=True)
class PageInfo:
    """What a link's page said about the track (generator pages, media pages)."""

    url: str  # the URL the member shared
    canonical_url: str | None = None
    site: str | None = None  # suno | youtube | soundcloud | bandcamp | generic | direct
    generator: str | None = None  # suno | udio | lyria ... when the site is a generator
    song_id: str | None = None
    title: str | None = None
    creator: str | None = None
    style: str | None = None
    tags: tuple[str, ...] = ()
    prompt: str | None = None
    lyrics: str | None = None
    model: str | None = None
    image_url: str | None = None
    audio_url: str | None = None
