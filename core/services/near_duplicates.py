"""Scoring near-duplicate candidates off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from core.fingerprint import similarity
from core.model import Fingerprint, TrackId


def _score(query: Fingerprint, candidates: Sequence[tuple[TrackId, Fingerprint]]) -> list[tuple[TrackId, float]]:
    return [(track_id, similarity(query.values, stored.values)) for track_id, stored in candidates]


async def score_candidates(
    query: Fingerprint, candidates: Sequence[tuple[TrackId, Fingerprint]], threshold: float
) -> list[tuple[TrackId, float]]:
    """Candidates at or above ``threshold``, best first; the bit counting runs in a worker thread.

    One alignment search is ~160 offsets over up to a thousand items: tens of milliseconds
    of pure Python per candidate, which would stall every bot and the web server if it ran
    on the loop.
    """
    if not candidates:
        return []
    scored = await asyncio.to_thread(_score, query, list(candidates))
    return sorted((item for item in scored if item[1] >= threshold), key=lambda item: -item[1])
