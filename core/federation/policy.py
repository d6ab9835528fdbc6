"""What a local operator accepts from peers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class FederationPolicy:
    """Local rules for replicated tracks (config [federation])."""

    accept_verdicts: tuple[str, ...] = ("verified", "declared")
    accept_genres: tuple[str, ...] = ()  # empty: every genre
    max_track_bytes: int = 50 * 1024 * 1024
    quota_bytes: int = 20 * 1024**3
    blocked: tuple[str, ...] = ()  # instance ids or Matrix user ids
    receive: str = "any"  # any | prefer_boosted | require_boosted (issue 17: the manifest's signed "boosts")
    receive_min_boosts: int = 1

    def fetch_due(self, manifest: Mapping[str, Any], now: datetime) -> datetime:
        """When to fetch a peer's track: under ``prefer_boosted`` a boosted one is due earlier
        (a minute per boost, at most a day), so the fetch queue, which goes by due time, takes it first."""
        if self.receive != "prefer_boosted":
            return now
        return now - timedelta(minutes=min(boosts_of(manifest), 1440))

    def is_blocked(self, instance_id: str, user_id: str) -> bool:
        """Whether the operator blocked this peer."""
        return instance_id in self.blocked or user_id in self.blocked

    def refuse_reason(self, manifest: Mapping[str, Any], used_bytes: int) -> str | None:
        """Why this manifest is not replicated here, or None to accept it."""
        verdict = str(manifest.get("verdict"))
        if verdict not in self.accept_verdicts:
            return f"verdict {verdict} is not accepted"
        genre = manifest.get("genre")
        if self.accept_genres and genre not in self.accept_genres:
            return f"genre {genre} is not accepted"
        if self.receive == "require_boosted" and boosts_of(manifest) < self.receive_min_boosts:
            return f"not boosted by {self.receive_min_boosts} curator(s) at its origin"
        size = int(manifest.get("size") or 0)
        if size <= 0 or size > self.max_track_bytes:
            return f"size {size} is over the limit of {self.max_track_bytes}"
        if used_bytes + size > self.quota_bytes:
            return "the federation quota is full"
        return None


def boosts_of(manifest: Mapping[str, Any]) -> int:
    """The boost count a manifest carries (0 when absent or malformed)."""
    value = manifest.get("boosts")
    try:
        return max(0, int(value)) if value is not None and not isinstance(value, bool) else 0
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class PublishGate:
    """Which accepted local tracks are published (config [curation]); everything unless curated."""

    curated: bool = False
    min_boosts: int = 3  # boosted by this many curators (0: this test is off)
    round_place: int = 3  # won or placed up to this rank in a closed round (0: off)
    min_score: float = 0.0  # effective, ring-resistant votes (0: off)

    def allows(self, boosts: int, best_place: int | None, fair_score: float) -> bool:
        """Whether a track with these facts may leave this instance."""
        if not self.curated:
            return True
        if self.min_boosts > 0 and boosts >= self.min_boosts:
            return True
        if self.round_place > 0 and best_place is not None and best_place <= self.round_place:
            return True
        return self.min_score > 0 and fair_score >= self.min_score
