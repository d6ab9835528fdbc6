"""Records for tests that do not need real audio."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from core.cid import cid_of
from core.model import Cid, InstanceId, Sharer, Track, TrackId, Verdict


def member(name: str, platform: str = "matrix") -> Sharer:
    """A member called ``name``."""
    user_id = f"@{name}:localhost" if platform == "matrix" else str(abs(hash(name)) % 10**17)
    return Sharer(platform, user_id, name.capitalize())


def make_track(
    sharer: Sharer,
    title: str = "Night drive",
    genre: str | None = "synthwave",
    verdict: Verdict = Verdict.DECLARED,
    when: datetime | None = None,
    prompt: str | None = None,
) -> Track:
    """A track record whose CID is random bytes' (no blob needed)."""
    return Track(
        id=TrackId(secrets.token_hex(8)),
        cid=Cid(cid_of(secrets.token_bytes(16))),
        size=1000,
        media_type="audio/mpeg",
        duration_s=30.0,
        title=title,
        sharer=sharer,
        first_seen_at=when or datetime(2026, 1, 5, 12, 0, tzinfo=UTC),
        origin_instance=InstanceId("wp-test"),
        verdict=verdict,
        verdict_reason="declared by the sharer",
        genre=genre,
        prompt=prompt,
    )
