"""The scheduler: round deadlines and the weekly digest, through apscheduler.

Deadlines live in the database; apscheduler only holds timers. At start-up every open
round is advanced (a deadline that passed while the instance was down fires at once) and
armed, and a digest that fell due while down is published. The scheduler is also a
subscriber of the event flow: a round started anywhere (a chat command, ``wavepool cmd``
through the control socket, or in-process while the instance was down) has its
deadlines armed when its event arrives. Phase changes it makes are events too, so their
posts reach the bots whenever those are up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bots.instance import Instance
from core.events.model import EventKind, RecordedEvent
from core.services.voting import deadlines
from core.voting_model import Round

log = logging.getLogger(__name__)

ROUND_EVENTS = (EventKind.ROUND_STARTED, EventKind.ROUND_VOTING_OPENED)
CHAT_CATCH_UP_S = 60  # how long start-up waits for the chat bots' first sync before closing rounds
CONFIRM_EVERY_S = 30  # how often due generator confirmations are tried
FEDERATED_ROUNDS_EVERY_S = 5  # cross-community rounds: entries out, deadlines, tallies in (database only)


class SchedulerPart:
    """Timers for round deadlines and the digest; an event subscriber that arms new rounds."""

    name = "scheduler"
    backlog: timedelta | None = None
    transactional = True

    def __init__(self, instance: Instance, chat_caught_up: Sequence[Callable[[], bool]] = ()) -> None:
        self._instance = instance
        self._chat_caught_up = tuple(chat_caught_up)
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._started = False

    def ready(self) -> bool:
        """Ready once its timers run."""
        return self._started

    def health(self) -> str:
        """``ok`` once its timers run."""
        return "ok" if self._started else "starting"

    async def deliver(self, event: RecordedEvent) -> None:
        """Arm the deadlines of a round that started or moved on."""
        voting = self._instance.app.voting
        if event.kind in ROUND_EVENTS and event.event.round_id is not None and voting is not None:
            self._arm(await voting.get(event.event.round_id))

    def _arm(self, rnd: Round) -> None:
        for job_id, when in deadlines(rnd):
            self._scheduler.add_job(
                self._advance,
                "date",
                run_date=when,
                id=job_id,
                replace_existing=True,
                misfire_grace_time=None,
                coalesce=True,
            )

    async def _advance(self) -> None:
        voting = self._instance.app.voting
        if voting is not None:
            for rnd in await voting.advance_due():
                log.info("round %s moved to %s", rnd.id, rnd.phase.value)

    async def _wait_for_chat(self) -> None:
        """Before closing rounds whose deadline passed while down, let the chat bots read what
        members did meanwhile (a reaction before the deadline is a vote): bounded."""
        loop = asyncio.get_running_loop()
        until = loop.time() + CHAT_CATCH_UP_S
        while self._chat_caught_up and not all(ready() for ready in self._chat_caught_up):
            if loop.time() >= until:
                log.warning("scheduler: chat bots not caught up after %d s; advancing rounds anyway", CHAT_CATCH_UP_S)
                return
            await asyncio.sleep(0.2)

    async def _digest(self) -> None:
        digest = self._instance.app.digest
        if digest is not None and await digest.publish_due():
            log.info("weekly digest published")

    async def _confirm(self) -> None:
        confirmations = self._instance.app.confirmations
        if confirmations is not None:
            for outcome in await confirmations.confirm_due():
                if outcome.verdict_changed:
                    log.info("track %s: %s", outcome.track_id, outcome.reason)

    async def _federated_rounds(self) -> None:
        rounds = self._instance.app.federated_rounds
        if rounds is not None:
            for fed in await rounds.advance_due():
                log.info("cross-community round %s: results posted", fed.id)

    async def run(self) -> None:
        """Advance what is due, arm every open round and the digest, then keep the timers."""
        app = self._instance.app
        self._scheduler.start()
        try:
            if app.voting is not None:
                await self._wait_for_chat()
                await self._advance()
                rounds = await app.voting.open_rounds()
                for rnd in rounds:
                    self._arm(rnd)
                log.info("scheduler: %d open round(s) armed", len(rounds))
            if app.digest is not None:
                s = app.digest.schedule
                self._scheduler.add_job(
                    self._digest,
                    "cron",
                    day_of_week=s.weekday,
                    hour=s.at.hour,
                    minute=s.at.minute,
                    timezone=s.timezone,
                    id="digest",
                    replace_existing=True,
                    misfire_grace_time=3600,
                    coalesce=True,
                )
                await self._digest()
            if app.confirmations is not None:  # generators' pages, retried with backoff by the service
                self._scheduler.add_job(
                    self._confirm,
                    "interval",
                    seconds=CONFIRM_EVERY_S,
                    id="confirmations",
                    replace_existing=True,
                    coalesce=True,
                    max_instances=1,
                )
            if app.federated_rounds is not None:  # a poll, not timers: it also waits on peers' tallies
                self._scheduler.add_job(
                    self._federated_rounds,
                    "interval",
                    seconds=FEDERATED_ROUNDS_EVERY_S,
                    id="federated-rounds",
                    replace_existing=True,
                    coalesce=True,
                    max_instances=1,
                )
                await self._federated_rounds()
            self._started = True
            await asyncio.Event().wait()
        finally:
            self._started = False
            self._scheduler.shutdown(wait=False)
