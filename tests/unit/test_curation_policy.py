"""The federation's quality gates: the publish gate and the receive side (issue 17)."""

from __future__ import annotations

from datetime import UTC, datetime

from core.federation.policy import FederationPolicy, PublishGate


def test_the_receive_policy_requires_or_prefers_boosted_tracks() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    manifest = {"verdict": "declared", "size": 1000, "boosts": 3}
    plain = {"verdict": "declared", "size": 1000}
    strict = FederationPolicy(receive="require_boosted", receive_min_boosts=2)
    assert strict.refuse_reason(manifest, 0) is None
    assert "not boosted" in (strict.refuse_reason(plain, 0) or "")
    prefer = FederationPolicy(receive="prefer_boosted")
    assert prefer.fetch_due(manifest, now) < prefer.fetch_due(plain, now) == now
    assert FederationPolicy().fetch_due(manifest, now) == now and FederationPolicy().refuse_reason(plain, 0) is None
    gate = PublishGate(curated=True, min_boosts=2, round_place=1, min_score=0)
    assert not gate.allows(1, None, 50.0) and gate.allows(2, None, 0) and gate.allows(0, 1, 0)
    assert not gate.allows(0, 2, 0) and PublishGate().allows(0, None, 0)
