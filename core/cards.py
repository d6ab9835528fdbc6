"""A track card's content, once: every adapter lays these fields out its own way."""

from __future__ import annotations

from collections.abc import Sequence

from core.model import Share, Strength, Track
from core.voting_model import is_anonymised

VERDICT_MARK = {"verified": "✅", "declared": "📝", "quarantined": "⏸", "rejected": "⛔"}


def duration_text(seconds: float) -> str:
    """``3:07``."""
    total = int(round(seconds))
    return f"{total // 60}:{total % 60:02d}"


def loudness_text(track: Track) -> str:
    """``-14.2 LUFS, peak -1.0 dBTP`` or ``n/a``."""
    q = track.quality
    if q is None or q.integrated_lufs is None:
        return "n/a"
    peak = f", peak {q.true_peak_dbtp:.1f} dBTP" if q.true_peak_dbtp is not None else ""
    clip = f", clipping {q.clipping_share:.1%}" if q.clipping_share >= 0.001 else ""
    return f"{q.integrated_lufs:.1f} LUFS{peak}{clip}"


def verdict_text(track: Track) -> str:
    """``✅ verified: C2PA manifest signed by …``."""
    return f"{VERDICT_MARK.get(track.verdict.value, '')} {track.verdict.value}: {track.verdict_reason}".strip()


def evidence_short(track: Track, limit: int = 3) -> list[str]:
    """The strongest pieces of evidence, one line each."""
    order = {Strength.STRONG: 0, Strength.AGAINST: 1, Strength.MODERATE: 2, Strength.WEAK: 3, Strength.INFO: 4}
    items = sorted(track.evidence, key=lambda e: order.get(e.strength, 9))
    return [f"{e.strength.value}: {e.detail}" for e in items[:limit]]


def card_fields(track: Track) -> list[tuple[str, str]]:
    """(name, value) pairs of a card, in display order."""
    fields = [
        ("Shared by", track.sharer.display_name),
        ("Genre", track.genre or "unsorted"),
        ("Duration", duration_text(track.duration_s)),
        ("Loudness", loudness_text(track)),
        ("Provenance", verdict_text(track)),
    ]
    if track.generator:
        fields.append(("Generator", track.generator))
    if track.prompt or track.style:
        fields.append(("Prompt" if track.prompt else "Style", (track.prompt or track.style or "")[:300]))
    evidence = evidence_short(track)
    if evidence:
        fields.append(("Evidence", "\n".join(evidence)))
    if not is_anonymised(track):  # an anonymous entry's address would name its sharer
        fields.append(("Pool address", track.cid))
    return fields


def card_text(track: Track, shares: Sequence[Share] = ()) -> str:
    """A full card as plain text (terminal, Matrix plain body)."""
    lines = [f"{track.title}" + (f" — {track.artist}" if track.artist else "")]
    if not is_anonymised(track):  # an anonymous entry's id or address would name its sharer
        lines.append(f"  id        {track.id}")
        lines.append(f"  cid       {track.cid}")
    lines.append(f"  audio     {track.media_type}, {duration_text(track.duration_s)}, {track.size / 1048576:.2f} MB")
    lines.append(
        f"  shared by {track.sharer.display_name} ({track.sharer.platform}) on {track.first_seen_at:%Y-%m-%d %H:%M} UTC"
    )
    lines.append(f"  genre     {track.genre or 'unsorted'}")
    if track.generator:
        song = f" (song {track.generator_song_id})" if track.generator_song_id else ""
        lines.append(f"  generator {track.generator}{song}")
    if track.prompt:
        lines.append(f"  prompt    {track.prompt}")
    if track.style:
        lines.append(f"  style     {track.style}")
    if track.quality:
        q = track.quality
        lines.append(f"  quality   {loudness_text(track)}, silence {q.silence_s:.1f} s")
    lines.append(f"  verdict   {track.verdict.value.upper()}: {track.verdict_reason}")
    if track.status.value != "active":
        lines.append(f"  status    {track.status.value}")
    lines.append("  evidence")
    for item in track.evidence:
        lines.append(f"    [{item.strength.value:>8}] {item.source}: {item.detail}")
    if len(shares) > 1:
        lines.append(f"  shared {len(shares)} times; last by {shares[-1].sharer.display_name}")
    return "\n".join(lines)
