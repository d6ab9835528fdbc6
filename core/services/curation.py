"""The curation services of an instance, built together over one index (issue 17)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core.curation_index import CurationIndex
from core.curation_ports import CurationStore
from core.events.ports import EventLog
from core.ports import Clock, TrackRepository, VotingRepository
from core.services.curation_feed import CurationFeed
from core.services.lineage import LineageService
from core.services.recommendations import RecommendationService
from core.services.reputation import ReputationService
from core.services.web_plays import WebPlays


@dataclass(frozen=True)
class Curation:
    """Reputation and boosts, recommendations, remix lineage."""

    reputation: ReputationService
    recommendations: RecommendationService
    lineage: LineageService
    store: CurationStore
    feed: CurationFeed
    plays: WebPlays


def build_curation(
    store: CurationStore,
    tracks: TrackRepository,
    events: EventLog,
    clock: Clock,
    voting: VotingRepository | None = None,
    *,
    min_reputation: float = 10.0,
    public_leaderboard: bool = False,
    after_build: Callable[[], object] | None = None,
    build: Callable[[], Awaitable[CurationIndex]] | None = None,
) -> Curation:
    """The three services over one shared, self-refreshing index (``after_build``, ``build``: see
    ``CurationFeed``)."""
    feed = CurationFeed(store, clock, after_build, build)
    return Curation(
        ReputationService(
            feed,
            store,
            tracks,
            events,
            clock,
            voting,
            min_reputation=min_reputation,
            public_leaderboard=public_leaderboard,
        ),
        RecommendationService(feed, store, tracks),
        LineageService(store, tracks, events, clock),
        store,
        feed,
        WebPlays(store, tracks, clock),
    )
