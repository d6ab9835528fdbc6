"""The one place that wires config, storage, core, scheduler, HTTP server and bots together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

from config import Settings
from core.announce import Announcer
from core.app import App
from core.clock import SystemClock
from core.commands.catalog import build_registry
from core.commands.declaration import CommandRegistry
from core.ports import Clock, LinkFetcher
from core.services.digest import DigestSchedule, DigestService
from core.services.genres import GenreDef, GenreService
from core.services.ingest import IngestLimits, IngestService
from core.services.moderation import ModerationService
from core.services.prompts import PromptService
from core.services.provenance import ProvenanceRules
from core.services.share_rate_limit import ShareRateLimiter
from core.services.sharing import ShareService
from core.services.voting import VotingService
from storage.blob_pool import DiskBlobPool
from storage.identity import Identity, load_or_create_identity
from storage.media.inspector import FfmpegMediaInspector
from storage.sqlite.bot_state import BotState
from storage.sqlite.database import Database
from storage.sqlite.genre_places import SqliteGenrePlaces
from storage.sqlite.prompt_repository import SqlitePromptRepository
from storage.sqlite.track_repository import SqliteTrackRepository
from storage.sqlite.voting_repository import SqliteVotingRepository

log = logging.getLogger(__name__)


@dataclass
class Instance:
    """An opened instance: storage, services and the command registry."""

    settings: Settings
    identity: Identity
    db: Database
    app: App
    registry: CommandRegistry
    state: BotState
    extras: dict[str, Any] = field(default_factory=dict)  # optional parts (scheduler, bots)

    @property
    def data_dir(self) -> Path:
        """Where this instance keeps its data."""
        return self.settings.data_dir


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
        GenreDef(name, genre.aliases, genre.keywords,
                 {k: v for k, v in (("discord", genre.discord_channel), ("matrix", genre.matrix_room)) if v})
        for name, genre in settings.genres.taxonomy.items()
    ]
    g, v, d = settings.genres, settings.voting, settings.digest
    defaults = {k: p for k, p in (("discord", g.default_discord_channel), ("matrix", g.default_matrix_room)) if p}
    other = {
        "round": {k: p for k, p in (("discord", v.round_discord_channel), ("matrix", v.round_matrix_room)) if p},
        "digest": {k: p for k, p in (("discord", d.discord_channel), ("matrix", d.matrix_room)) if p},
    }
    return GenreService(taxonomy, SqliteGenrePlaces(db), defaults, other)


def _build_app(settings: Settings, identity: Identity, db: Database, pool: DiskBlobPool,
               tracks: SqliteTrackRepository, ingest: IngestService, clock: Clock) -> App:
    announcer = Announcer()
    genres = _genre_service(settings, db)
    ingest.classify_genre = lambda track, tag_genre: genres.classify(
        track.genre, track.prompt, track.style, track.tags, tag_genre)
    prompts = PromptService(SqlitePromptRepository(db), clock)
    limiter = ShareRateLimiter(tracks, clock, settings.ingest.shares_per_window, settings.ingest.share_window_s)
    voting = VotingService(SqliteVotingRepository(db), tracks, clock, announcer)
    d = settings.digest
    hour, minute = (int(x) for x in d.time.split(":"))
    digest = DigestService(DigestSchedule(d.weekday, time(hour, minute), d.timezone, d.top_n), tracks, clock,
                           announcer, BotState(db), settings.instance.community, voting, prompts)
    return App(
        instance=identity.instance_id,
        instance_name=settings.instance.name,
        clock=clock,
        pool=pool,
        tracks=tracks,
        ingest=ingest,
        share=ShareService(ingest, genres, prompts, limiter),
        moderation=ModerationService(tracks, pool),
        announcer=announcer,
        genres=genres,
        prompts=prompts,
        voting=voting,
        digest=digest,
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
        tracks = SqliteTrackRepository(db)
        inspector = FfmpegMediaInspector(trust_anchors_pem=_trust_anchors(settings))
        the_clock = clock or SystemClock()
        ingest_settings, prov = settings.ingest, settings.provenance
        ingest = IngestService(
            pool=pool,
            tracks=tracks,
            inspector=inspector,
            clock=the_clock,
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
            fetcher=_link_fetcher(settings),
            work_dir=data_dir / "downloads",
        )
        app = _build_app(settings, identity, db, pool, tracks, ingest, the_clock)
        yield Instance(settings, identity, db, app, build_registry(app), BotState(db))
    finally:
        await db.close()


async def run_instance(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Serve until SIGINT/SIGTERM (or ``stop`` is set): HTTP, scheduler and configured bots."""
    from bots.web.server import WebServer

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with open_instance(settings) as instance:
        log.info("instance %s (%s): data in %s (database %s, pool %s)",
                 settings.instance.name, instance.identity.instance_id, instance.data_dir,
                 instance.data_dir / "wavepool.sqlite3", instance.data_dir / "pool")
        web = WebServer(instance)
        await web.start(settings.http.host, settings.http.port)
        tasks: list[asyncio.Task[Any]] = []
        try:
            for starter in _optional_parts():
                started = await starter(instance)
                if started is not None:
                    started.add_done_callback(_report_part_end)
                    tasks.append(started)
            if not settings.discord.token:
                log.info("Discord bot off: set WAVEPOOL_DISCORD_TOKEN to start it")
            if not settings.matrix.homeserver:
                log.info("Matrix bot off: set [matrix] homeserver and credentials to start it")
            await stop.wait()
            log.info("stopping")
        finally:
            await stop_parts(tasks)
            await web.stop()


def _report_part_end(task: asyncio.Task[Any]) -> None:
    """A part that stops on its own says why in the log; the rest of the instance goes on."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("%s stopped: %s: %s", task.get_name(), type(error).__name__, error)


async def stop_parts(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel the parts' tasks and wait until each has finished."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def _optional_parts() -> list[Any]:
    """Starters for the scheduler and the bots; each returns a task or None when off."""
    parts: list[Any] = []
    for module_name in ("bots.scheduler_part", "bots.matrix.part", "bots.discord.part", "bots.federation.part"):
        try:
            module = __import__(module_name, fromlist=["start"])
        except ImportError as err:
            if err.name and module_name.startswith(err.name):
                continue
            raise
        parts.append(module.start)
    return parts
