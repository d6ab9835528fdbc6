"""First-sharer settlement: the federation event's time decides, a backdated manifest does not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.model import InstanceId, TrackId
from core.services.first_sharer import SharerClaim, settle_first_sharer

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _claim(name: str, manifest: datetime, event: datetime | None) -> SharerClaim:
    return SharerClaim(
        InstanceId(f"inst-{name}"),
        f"Community {name}",
        f"member of {name}",
        TrackId(f"t-{name}"),
        manifest,
        _ms(event) if event else None,
    )


def test_the_earliest_federation_event_wins() -> None:
    a = _claim("A", T0, T0 + timedelta(seconds=2))
    b = _claim("B", T0 + timedelta(hours=1), T0 + timedelta(hours=1, seconds=1))
    settled = settle_first_sharer([b, a])
    assert settled.first == a and settled.ordered == (a, b) and settled.conflicts == ()


def test_a_peer_that_backdates_its_manifest_does_not_win_and_the_conflict_is_shown() -> None:
    honest = _claim("A", T0, T0 + timedelta(seconds=1))
    backdated = _claim("C", T0 - timedelta(days=30), T0 + timedelta(days=2))
    settled = settle_first_sharer([backdated, honest])
    assert settled.first == honest
    assert len(settled.conflicts) == 1 and "Community C" in settled.conflicts[0]
    assert "reached the federation only at 2026-11-03" in settled.conflicts[0]


def test_unpublished_claims_come_last_and_are_flagged() -> None:
    published = _claim("A", T0, T0)
    local = _claim("L", T0 - timedelta(days=1), None)
    settled = settle_first_sharer([local, published])
    assert settled.first == published and settled.ordered[-1] == local
    assert any("never published" in c for c in settled.conflicts)
    only_local = settle_first_sharer([local])
    assert only_local.first == local and only_local.conflicts == ()


def test_ties_and_skewed_clocks_are_shown() -> None:
    a = _claim("A", T0, T0)
    b = _claim("B", T0 + timedelta(hours=2), T0 + timedelta(milliseconds=400))
    settled = settle_first_sharer([a, b])
    assert settled.first == a
    assert any("within a second" in c for c in settled.conflicts)
    assert any("dated after the event" in c for c in settled.conflicts)
    assert settle_first_sharer([]).first is None
