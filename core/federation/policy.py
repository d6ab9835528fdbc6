"""What a local operator accepts from peers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FederationPolicy:
    """Local rules for replicated tracks (config [federation])."""

    accept_verdicts: tuple[str, ...] = ("verified", "declared")
    accept_genres: tuple[str, ...] = ()  # empty: every genre
    max_track_bytes: int = 50 * 1024 * 1024
    quota_bytes: int = 20 * 1024**3
    blocked: tuple[str, ...] = ()  # instance ids or Matrix user ids

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
        size = int(manifest.get("size") or 0)
        if size <= 0 or size > self.max_track_bytes:
            return f"size {size} is over the limit of {self.max_track_bytes}"
        if used_bytes + size > self.quota_bytes:
            return "the federation quota is full"
        return None
