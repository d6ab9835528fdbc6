"""Plain-text rendering of track cards for the terminal."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from core.cards import card_text
from core.model import Track

__all__ = ["card_text", "track_json", "track_record"]


def track_record(track: Track) -> dict[str, Any]:
    """The track as a JSON-able dict."""
    raw = asdict(track)
    raw["first_seen_at"] = track.first_seen_at.isoformat()
    raw["verdict"] = track.verdict.value
    raw["status"] = track.status.value
    raw["evidence"] = [e.to_dict() for e in track.evidence]
    raw["quality"] = track.quality.to_dict() if track.quality else None
    return raw


def track_json(track: Track) -> str:
    """The track record as indented JSON."""
    return json.dumps(track_record(track), indent=2, ensure_ascii=False, default=str)
