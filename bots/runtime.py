"""The one place that wires config, storage, core, scheduler, HTTP server and bots together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import time
from typing import TYPE_CHECKING, Any, Protocol

from bots.control.server import ControlServer
from bots.curation_setup import curation_for, start_curation_warm_up
from bots.federation.stored_info import StoredFederationInfo, StoredPeerDigests
from bots.instance import Instance
from bots.replica_prints_part import ReplicaPrintsPart
from bots.scheduler_part import SchedulerPart
from bots.web.site import web_server_for
from config import Settings
from core.announcements import AnnouncementRules, Announcements
from core.app import App
from core.clock import SystemClock
from core.commands.catalog import build_registry
from core.events.dispatcher import Dispatcher, Subscriber
from core.ports import Clock, LinkFetcher
from core.services.confirmation import ConfirmationPolicy, ConfirmationService
from core.services.digest import DigestSchedule, DigestService
from core.services.federated_round_winners import FederatedWinners
from core.services.federated_rounds import FederatedRoundService
from core.services.genres import GenreDef, GenreService
from core.services.ingest import IngestLimits, IngestService
from core.services.moderation import ModerationService
from core.services.prompts import PromptService
from core.services.provenance import ProvenanceRules
from core.services.quality_gate import LowQualityAction, QualityRules
from core.services.share_rate_limit import ShareRateLimiter
from core.services.sharing import ShareService
from core.services.voting import VotingService
from storage.blob_pool import DiskBlobPool
from storage.identity import Identity, load_or_create_identity
from storage.links.generator_confirmers import build_confirmers
from storage.media.inspector import FfmpegMediaInspector
from storage.sqlite.bot_state import BotState
from storage.sqlite.confirmation_store import SqliteConfirmationStore
from storage.sqlite.database import Database
from storage.sqlite.event_log import SqliteEventLog
from storage.sqlite.federated_rounds import SqliteFederatedRoundStore
from storage.sqlite.federation_store import SqliteFederationStore
from storage.sqlite.genre_places import SqliteGenrePlaces
from storage.sqlite.near_dup_index import SqliteNearDuplicateIndex
from storage.sqlite.prompt_repository import SqlitePromptRepository
from storage.sqlite.sharer_claims import SqliteSharerClaims
from storage.sqlite.track_repository import SqliteTrackRepository
from storage.sqlite.voting_repository import SqliteVotingRepository

if TYPE_CHECKING:  # the chat and federation parts are imported only when the config turns them on
    from bots.discord.part import DiscordPart
    from bots.federation.part import FederationPart
    from bots.matrix.part import MatrixPart

log = logging.getLogger(__name__)


def _trust_anchors(settings: Settings) -> str | None:
    pems = [path.read_text(encoding="utf-8") for path in settings.provenance.trust_anchors]
    return "\n".join(pems) if pems else None


def _link_fetcher(settings: Settings) -> LinkFetcher | None:
    try:
        from storage.links.link_fetcher import SafeLinkFetcher
    except ImportError:  # the link fetcher is optional at import time only while it is being built
        log.warning("link ingest unavailable: storage.links is not installed")
        return None
    return SafeLinkFetcher(settings.links, host_map=settings.links.pinned_hosts or None)


def _genre_service(settings: Settings, db: Database) -> GenreService:
    taxonomy = [
        GenreDef(
            name,
            genre.aliases,
            genre.keywords,
            {k: v for k, v in (("discord", genre.discord_channel), ("matrix", genre.matrix_room)) if v},
        )
        for name, genre in settings.genres.taxonomy.items()
    ]
    g, v, d = settings.genres, settings.voting, settings.digest
    defaults = {k: p for k, p in (("discord", g.default_discord_channel), ("matrix", g.default_matrix_room)) if p}
    other = {
        "round": {k: p for k, p in (("discord", v.round_discord_channel), ("matrix", v.round_matrix_room)) if p},
        "digest": {k: p for k, p in (("discord", d.discord_channel), ("matrix", d.matrix_room)) if p},
    }
    watched = {"discord": settings.discord.watch_channels, "matrix": settings.matrix.watch_rooms}
    return GenreService(taxonomy, SqliteGenrePlaces(db), defaults, other, watched)


def _confirmations(
    settings: Settings,
    db: Database,
    tracks: SqliteTrackRepository,
    events: SqliteEventLog,
    clock: Clock,
    fetcher: LinkFetcher | None,
    inspector: FfmpegMediaInspector,
) -> ConfirmationService | None:
    """Generators' pages confirming shared tracks, when links can be fetched."""
    prov = settings.provenance
    if fetcher is None or not prov.confirm_generators:
        return None
    confirmers = build_confirmers(
        prov.confirm_generators,
        fetcher,
        inspector,
        settings.data_dir / "downloads",
        settings.ingest.max_bytes,
        prov.generator_pages,
    )
    policy = ConfirmationPolicy(
        match_threshold=settings.ingest.near_duplicate_threshold,
        retry_base_s=prov.confirm_retry_base_s,
        max_attempts=prov.confirm_max_attempts,
        quarantine_conflicts=prov.quarantine_conflicts,
    )
    return ConfirmationService(SqliteConfirmationStore(db), confirmers, tracks, clock, policy, events)


def _ingest_service(
    settings: Settings,
    identity: Identity,
    pool: DiskBlobPool,
    tracks: SqliteTrackRepository,
    events: SqliteEventLog,
    genres: GenreService,
    clock: Clock,
    fetcher: LinkFetcher | None,
    inspector: FfmpegMediaInspector,
    confirmations: ConfirmationService | None,
    claims: SqliteSharerClaims | None = None,
) -> IngestService:
    ingest_settings, prov = settings.ingest, settings.provenance
    return IngestService(
        pool=pool,
        tracks=tracks,
        inspector=inspector,
        clock=clock,
        instance=identity.instance_id,
        limits=IngestLimits(
            max_bytes=ingest_settings.max_bytes,
            max_duration_s=ingest_settings.max_duration_s,
            min_duration_s=ingest_settings.min_duration_s,
            near_duplicate_threshold=ingest_settings.near_duplicate_threshold,
        ),
        rules=ProvenanceRules(
            quarantine_near_duplicates=prov.quarantine_near_duplicates,
            quarantine_invalid_c2pa=prov.quarantine_invalid_c2pa,
            quarantine_non_ai_c2pa=prov.quarantine_non_ai_c2pa,
            quarantine_conflicts=prov.quarantine_conflicts,
            accept_undeclared=prov.accept_undeclared,
        ),
        events=events,
        fetcher=fetcher,
        work_dir=settings.data_dir / "downloads",
        classify_genre=lambda track, tag_genre: genres.classify(
            track.genre, track.prompt, track.style, track.tags, tag_genre
        ),
        confirmations=confirmations,
        quality_rules=QualityRules(
            action=LowQualityAction(prov.low_quality),
            max_silent_share=prov.max_silent_share,
            min_distinct_share=prov.min_distinct_share,
            max_noise_flatness=prov.max_noise_flatness,
        ),
        claims=claims,
    )


def _build_app(
    settings: Settings, identity: Identity, db: Database, pool: DiskBlobPool, events: SqliteEventLog, clock: Clock
) -> App:
    tracks = SqliteTrackRepository(db)
    genres = _genre_service(settings, db)
    fetcher = _link_fetcher(settings)
    inspector = FfmpegMediaInspector(trust_anchors_pem=_trust_anchors(settings))
    confirmations = _confirmations(settings, db, tracks, events, clock, fetcher, inspector)
    claims = SqliteSharerClaims(db, identity.instance_id, settings.instance.community)  # issue 12
    ingest = _ingest_service(
        settings, identity, pool, tracks, events, genres, clock, fetcher, inspector, confirmations, claims
    )
    prompts = PromptService(SqlitePromptRepository(db), clock)
    limiter = ShareRateLimiter(tracks, clock, settings.ingest.shares_per_window, settings.ingest.share_window_s)
    voting_repo = SqliteVotingRepository(db)
    voting = VotingService(
        voting_repo, tracks, clock, events, min_account_age_days=settings.voting.min_account_age_days
    )
    federated_rounds = FederatedRoundService(
        SqliteFederatedRoundStore(db), voting_repo, tracks, clock, events, identity.instance_id, settings.instance.name
    )
    curation = curation_for(settings, db, tracks, events, clock)  # issue 17
    d = settings.digest
    hour, minute = (int(x) for x in d.time.split(":"))
    state = BotState(db)
    digest = DigestService(
        DigestSchedule(d.weekday, time(hour, minute), d.timezone, d.top_n),
        tracks,
        clock,
        events,
        state,
        settings.instance.community,
        voting,
        prompts,
        peers=StoredPeerDigests(state, settings.federation.blocked_instances),
        remixes=curation.lineage.most_remixed,
        boosts=curation.reputation.boost_counts,
        federated=FederatedWinners(federated_rounds, tracks),  # issue 18
    )
    federation = (
        StoredFederationInfo(settings, identity.instance_id, SqliteFederationStore(db), state)
        if settings.matrix.homeserver and settings.matrix.user_id
        else None
    )
    return App(
        instance=identity.instance_id,
        instance_name=settings.instance.name,
        clock=clock,
        pool=pool,
        tracks=tracks,
        ingest=ingest,
        share=ShareService(ingest, genres, prompts, limiter),
        moderation=ModerationService(tracks, pool, events, clock),
        events=events,
        genres=genres,
        prompts=prompts,
        voting=voting,
        digest=digest,
        federation=federation,
        confirmations=confirmations,
        curation=curation,
        federated_rounds=federated_rounds,
    )


@contextlib.asynccontextmanager
async def open_instance(settings: Settings, clock: Clock | None = None) -> AsyncIterator[Instance]:
    """Open storage and build the services; close everything on exit."""
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    identity = load_or_create_identity(data_dir)
    db = await Database.open(data_dir / "wavepool.sqlite3", synchronous=settings.instance.sqlite_synchronous)
    try:
        pool = DiskBlobPool(data_dir / "pool")
        removed = await pool.clean_temp()
        if removed:
            log.info("removed %d temp files left by an interrupted write", removed)
        events = SqliteEventLog(db)
        app = _build_app(settings, identity, db, pool, events, clock or SystemClock())
        announcements = Announcements(
            app.tracks,
            app.voting,
            app.digest,
            AnnouncementRules(
                replicated_tracks=settings.federation.announce_replicated, public_url=settings.http.public_url
            ),
            federated=app.federated_rounds,
            lineage=app.curation.lineage if app.curation else None,  # issue 17: remixes told to the parent's sharer
        )
        yield Instance(settings, identity, db, app, build_registry(app), BotState(db), events, announcements)
    finally:
        await db.close()


class Part(Subscriber, Protocol):
    """A long-running piece of the instance that also hears the event flow."""

    async def run(self) -> None:
        """Serve until cancelled."""
        ...

    def health(self) -> str:
        """``ok``, or what is wrong, in words."""
        ...


@dataclass
class Parts:
    """The parts of a running instance, typed, and the dispatcher that feeds them."""

    scheduler: SchedulerPart | None = None
    matrix: MatrixPart | None = None
    discord: DiscordPart | None = None
    federation: FederationPart | None = None
    replica_prints: ReplicaPrintsPart | None = None  # issue 12: replicated tracks fingerprinted
    dispatcher: Dispatcher | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def all(self) -> Sequence[Part]:
        """Every part that is on."""
        parts = (self.scheduler, self.matrix, self.discord, self.federation, self.replica_prints)
        return [p for p in parts if p is not None]

    def health(self) -> dict[str, str]:
        """Each part's state: ``ok`` or what is wrong."""
        return {part.name: part.health() for part in self.all()}


STOP_TRIES = 10
STOP_WAIT_S = 2.0

PART_NAMES = ("scheduler", "matrix", "discord", "federation")


def build_parts(instance: Instance, names: Sequence[str] = PART_NAMES) -> Parts:
    """The parts the config turns on (among ``names``), each built with what it needs."""
    settings = instance.settings
    chat = "matrix" in names and bool(settings.matrix.homeserver)
    keeper = None
    if chat or "federation" in names:
        from bots.federation.matrix_session import SessionKeeper

        keeper = SessionKeeper(settings.matrix, instance.data_dir)  # one login for the chat bot and federation
    # each platform's library is imported only for a part that is on (start-up time)
    federation = None
    replica_prints = None
    if "federation" in names:
        from bots.federation.part import FederationPart, federates

        if federates(instance):
            # Both on the same account: one sync, the chat bot's, feeds the federation reader too.
            federation = FederationPart(instance, keeper, shared_sync=chat)
            replica_prints = ReplicaPrintsPart(instance)
    matrix = None
    if chat:
        from bots.matrix.part import MatrixPart

        matrix = MatrixPart(instance, keeper, federation.feed if federation else None)
    # rounds whose deadline passed while down close after Matrix read the reactions made meanwhile
    waits = [matrix.caught_up] if matrix is not None else []
    parts = Parts(
        scheduler=SchedulerPart(instance, waits) if "scheduler" in names else None,
        matrix=matrix,
        federation=federation,
        replica_prints=replica_prints,
    )
    if "discord" in names and settings.discord.token:
        from bots.discord.part import DiscordPart

        parts.discord = DiscordPart(instance)
    parts.dispatcher = Dispatcher(instance.events, parts.all(), instance.app.clock)
    return parts


def start_parts(parts: Parts) -> None:
    """Run every part and the dispatcher as tasks."""
    assert parts.dispatcher is not None
    for part in parts.all():
        task = asyncio.create_task(part.run(), name=part.name)
        task.add_done_callback(_report_part_end)
        parts.tasks.append(task)
    parts.tasks.append(asyncio.create_task(parts.dispatcher.run(), name="dispatcher"))
    parts.tasks[-1].add_done_callback(_report_part_end)


async def run_instance(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Serve until SIGINT/SIGTERM (or ``stop`` is set): HTTP, control socket, scheduler, bots, federation."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with open_instance(settings) as instance:
        log.info(
            "instance %s (%s): data in %s (database %s, pool %s)",
            settings.instance.name,
            instance.identity.instance_id,
            instance.data_dir,
            instance.data_dir / "wavepool.sqlite3",
            instance.data_dir / "pool",
        )
        parts = build_parts(instance)
        web = web_server_for(instance, parts.health)
        await web.start(settings.http.host, settings.http.port)
        control = ControlServer(instance)
        await control.start()
        try:
            start_parts(parts)
            # fingerprints stored before the index: indexed behind the running instance, not before it serves
            parts.tasks.append(asyncio.create_task(catch_up_near_dup_index(instance.db), name="near-dup index"))
            start_curation_warm_up(instance, parts.tasks)  # issue 17: the first `discover` does not wait
            parts.tasks.append(asyncio.create_task(warm_prompt_search(instance.db), name="prompt search warm-up"))
            if not settings.discord.token:
                log.info("Discord bot off: set WAVEPOOL_DISCORD_TOKEN to start it")
            if not settings.matrix.homeserver:
                log.info("Matrix bot off: set [matrix] homeserver and credentials to start it")
            await stop.wait()
            log.info("stopping")
        finally:
            await stop_parts(parts.tasks)
            await control.stop()
            await web.stop()


async def catch_up_near_dup_index(db: Database) -> int:
    """Index the fingerprints stored before the near-duplicate index existed (once; resumable:
    each batch commits, so a stop part-way loses nothing); how many were indexed."""
    index = SqliteNearDuplicateIndex(db)
    try:  # issue 12: the band table into process memory (lookups use SQLite until it is loaded)
        rows = await index.warm()
        log.info("near-duplicate index: %d band rows loaded into memory", rows)
    finally:
        index.close()
    state = BotState(db)
    if await state.get("storage", "near_dup_backfilled") is not None:
        return 0
    log.info("near-duplicate index: indexing stored fingerprints in the background")
    indexed = await index.backfill()
    await state.put("storage", "near_dup_backfilled", "1")
    log.info("near-duplicate index: %d stored fingerprints indexed", indexed)
    return indexed


async def warm_prompt_search(db: Database) -> int:
    """Load every prompt's length and repeated words behind the running instance (issue 16:
    searches rank from memory once it is done, with FTS5's bm25() until then); how many."""
    loaded = await SqlitePromptRepository(db).warm()
    log.info("prompt search: %d prompts loaded into memory for ranking", loaded)
    return loaded


def _report_part_end(task: asyncio.Task[Any]) -> None:
    """A part that stops on its own says why in the log; the rest of the instance goes on."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("%s stopped: %s: %s", task.get_name(), type(error).__name__, error)


async def stop_parts(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel the parts' tasks and wait until each has finished (a task that let a cancellation
    pass is cancelled again, a bounded number of times, so a stop never hangs)."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        for _ in range(STOP_TRIES):
            done, _pending = await asyncio.wait({task}, timeout=STOP_WAIT_S)
            if done:
                break
            task.cancel()
        else:
            log.error("%s did not stop after %d cancellations", task.get_name(), STOP_TRIES)
            continue
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
