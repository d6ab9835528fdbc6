"""Plain-text rendering of track cards for the terminal."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from core.model import Share, Track


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


def _duration(seconds: float) -> str:
    total = int(round(seconds))
    return f"{total // 60}:{total % 60:02d}"


def card_text(track: Track, shares: Sequence[Share] = ()) -> str:
    """A track card for a terminal."""
    lines = [f"{track.title}" + (f" — {track.artist}" if track.artist else "")]
    lines.append(f"  id        {track.id}")
    lines.append(f"  cid       {track.cid}")
    lines.append(f"  audio     {track.media_type}, {_duration(track.duration_s)}, {track.size / 1048576:.2f} MB")
    lines.append(f"  shared by {track.sharer.display_name} ({track.sharer.platform}) on "
                 f"{track.first_seen_at:%Y-%m-%d %H:%M} UTC")
    if track.genre:
        lines.append(f"  genre     {track.genre}")
    if track.generator:
        lines.append(f"  generator {track.generator}" + (f" (song {track.generator_song_id})" if track.generator_song_id else ""))
    if track.prompt:
        lines.append(f"  prompt    {track.prompt}")
    if track.style:
        lines.append(f"  style     {track.style}")
    if track.quality:
        q = track.quality
        loud = f"{q.integrated_lufs:.1f} LUFS" if q.integrated_lufs is not None else "n/a"
        peak = f"{q.true_peak_dbtp:.1f} dBTP" if q.true_peak_dbtp is not None else "n/a"
        lines.append(f"  quality   {loud}, peak {peak}, silence {q.silence_s:.1f} s, clipping {q.clipping_share:.2%}")
    lines.append(f"  verdict   {track.verdict.value.upper()}: {track.verdict_reason}")
    if track.status.value != "active":
        lines.append(f"  status    {track.status.value}")
    lines.append("  evidence")
    for item in track.evidence:
        lines.append(f"    [{item.strength.value:>8}] {item.source}: {item.detail}")
    if len(shares) > 1:
        lines.append(f"  shared {len(shares)} times; last by {shares[-1].sharer.display_name}")
    return "\n".join(lines)
