"""Who shared a track first across the federation, by evidence a peer cannot forge alone.

Each instance stamps its manifest with its own ``first_seen_at``: any instance can write
any date there. The homeserver's ``origin_server_ts`` of the first manifest event in the
federation room is set by the sender's homeserver when the event is created, and the
room's other servers see it as-is. A peer can backdate its manifest but not the event
that carried it (short of running a homeserver that lies, which the other homeservers'
receipt times would expose). So claims are ordered by ``origin_server_ts``; the manifest
timestamps are kept only to show where a claim disagrees with its own event.

Pure function; wiring it to the federation room (which event was first per track) is the
federation part's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from core.model import Evidence, InstanceId, Strength, Track, TrackId


@dataclass(frozen=True)
class SharerClaim:
    """One instance's claim to a track (or its near-duplicate) being first."""

    instance: InstanceId
    community: str
    sharer: str  # display name or pseudonym
    track_id: TrackId
    manifest_ts: datetime  # what the instance says (its first_seen_at)
    origin_server_ts: int | None  # ms; the first manifest event in the federation room, None if never published


@dataclass(frozen=True)
class FirstSharer:
    """The settled order, the winner and every disagreement worth showing."""

    first: SharerClaim | None
    ordered: tuple[SharerClaim, ...]
    conflicts: tuple[str, ...]


def _event_time(claim: SharerClaim) -> datetime | None:
    if claim.origin_server_ts is None:
        return None
    return datetime.fromtimestamp(claim.origin_server_ts / 1000, UTC)


def settle_first_sharer(claims: Sequence[SharerClaim], skew_s: float = 300.0) -> FirstSharer:
    """Order claims by their federation event; unpublished claims come last, by their own word.

    Conflicts shown: a claim whose manifest says it was earlier than the winner's event
    although its own event came later (backdated), a manifest dated more than ``skew_s``
    after its own event (a clock that is off), ties within a second, and claims that
    were never published (they cannot be checked).
    """
    published = sorted(
        (c for c in claims if c.origin_server_ts is not None), key=lambda c: (c.origin_server_ts, c.instance)
    )
    unpublished = sorted((c for c in claims if c.origin_server_ts is None), key=lambda c: (c.manifest_ts, c.instance))
    ordered = (*published, *unpublished)
    first = ordered[0] if ordered else None
    conflicts: list[str] = []
    winner_at = _event_time(first) if first is not None else None
    for claim in published:
        event_at = _event_time(claim)
        assert event_at is not None
        if claim is not first and winner_at is not None and claim.manifest_ts < winner_at:
            conflicts.append(
                f"{claim.community} ({claim.sharer}) dates its share {claim.manifest_ts:%Y-%m-%d %H:%M} UTC, "
                f"before {first.community if first else '?'}'s, but its manifest reached the federation "
                f"only at {event_at:%Y-%m-%d %H:%M} UTC"
            )
        elif (claim.manifest_ts - event_at).total_seconds() > skew_s:
            conflicts.append(
                f"{claim.community}'s manifest is dated after the event that carried it "
                f"({claim.manifest_ts:%Y-%m-%d %H:%M} vs {event_at:%Y-%m-%d %H:%M} UTC)"
            )
    if len(published) > 1 and published[1].origin_server_ts is not None and published[0].origin_server_ts is not None:
        if published[1].origin_server_ts - published[0].origin_server_ts < 1000:
            conflicts.append(f"{published[0].community} and {published[1].community} shared it within a second")
    for claim in unpublished:
        if first is not None and claim is not first:
            conflicts.append(
                f"{claim.community}'s claim ({claim.manifest_ts:%Y-%m-%d}) was never published "
                "to the federation and cannot be checked"
            )
    return FirstSharer(first, tuple(ordered), tuple(conflicts))


class ClaimSource(Protocol):
    """Turns a pool track into its claim: community, sharer and the federation event's time."""

    async def claim(self, track: Track) -> SharerClaim:
        """The claim this track makes to being first."""
        ...


def first_sharer_evidence(settled: FirstSharer) -> Evidence | None:
    """What members see: who shared the sound first, where and when, and every disagreement."""
    first = settled.first
    if first is None:
        return None
    when = _event_time(first) or first.manifest_ts
    line = f"first shared by {first.sharer} in {first.community} on {when:%Y-%m-%d}"
    if settled.conflicts:
        line += "; " + "; ".join(settled.conflicts)
    return Evidence(
        "first_sharer",
        "first-sharer",
        Strength.INFO,
        line,
        {
            "track_id": first.track_id,
            "instance": first.instance,
            "community": first.community,
            "sharer": first.sharer,
            "origin_server_ts": first.origin_server_ts,
            "manifest_ts": first.manifest_ts.isoformat(),
            "conflicts": list(settled.conflicts),
            "claims": [
                {"instance": c.instance, "community": c.community, "track_id": c.track_id, "ts": c.origin_server_ts}
                for c in settled.ordered
            ],
        },
    )
