"""Builds an instance's curation services from its settings (called by ``bots.runtime``)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from bots.curation_child import index_builder
from bots.freed_memory import release_freed_memory
from config.settings import Settings
from core.events.ports import EventLog
from core.federation.curated import CuratedFederation
from core.federation.policy import PublishGate
from core.ports import Clock, TrackRepository
from core.services.curation import Curation, build_curation
from storage.sqlite.curation_store import SqliteCurationStore
from storage.sqlite.database import Database
from storage.sqlite.voting_repository import SqliteVotingRepository

if TYPE_CHECKING:
    from bots.instance import Instance

log = logging.getLogger(__name__)


def curation_for(settings: Settings, db: Database, tracks: TrackRepository, events: EventLog, clock: Clock) -> Curation:
    """Reputation, boosts, recommendations and lineage over the instance database."""
    c = settings.curation
    store = SqliteCurationStore(db)
    return build_curation(
        store,
        tracks,
        events,
        clock,
        SqliteVotingRepository(db),
        min_reputation=c.min_boost_reputation,
        public_leaderboard=c.public_leaderboard,
        after_build=release_freed_memory,
        build=index_builder(db, store),
    )


def publish_gate_for(settings: Settings) -> PublishGate:
    """The federation publish gate the settings ask for."""
    c = settings.curation
    return PublishGate(
        curated=c.publish_gate == "curated",
        min_boosts=c.publish_min_boosts,
        round_place=c.publish_round_place,
        min_score=c.publish_min_score,
    )


def curated_federation(instance: Instance) -> CuratedFederation | None:
    """Curation's part in the federation (publish gate, boosts, lineage), or None without curation."""
    curation = instance.app.curation
    if curation is None:
        return None
    return CuratedFederation(curation.reputation, curation.lineage, curation.store, publish_gate_for(instance.settings))


def start_curation_warm_up(instance: Instance, tasks: list[asyncio.Task[Any]]) -> asyncio.Task[int] | None:
    """Build the curation index in the background at start-up (a million votes take a minute or more
    of CPU), so the first ``discover`` after a restart finds it ready; the task joins ``tasks``."""
    curation = instance.app.curation
    if curation is None:
        return None
    task = asyncio.create_task(curation.feed.warm(), name="curation index")
    tasks.append(task)
    return task
