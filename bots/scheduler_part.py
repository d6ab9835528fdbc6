"""The scheduler: round deadlines and the weekly digest, through apscheduler.

Deadlines live in the database; at start-up every open round is advanced (a deadline
that passed while the instance was down fires at once) and re-armed, and a digest that
fell due while down goes out. apscheduler only holds timers, never state.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler

if TYPE_CHECKING:
    from bots.runtime import Instance

log = logging.getLogger(__name__)


class ApsDeadlineScheduler:
    """``core.services.voting.DeadlineScheduler`` on apscheduler."""

    def __init__(self, instance: Instance) -> None:
        self._instance = instance
        self.scheduler = AsyncIOScheduler(timezone="UTC")

    def arm(self, job_id: str, when: datetime) -> None:
        """Run ``advance_due`` at ``when`` (at once if it passed)."""
        self.scheduler.add_job(self._advance, "date", run_date=when, id=job_id, replace_existing=True,
                               misfire_grace_time=None, coalesce=True)

    async def _advance(self) -> None:
        voting = self._instance.app.voting
        if voting is not None:
            moved = await voting.advance_due()
            for rnd in moved:
                log.info("round %s moved to %s", rnd.id, rnd.phase.value)

    async def _digest(self) -> None:
        digest = self._instance.app.digest
        if digest is not None and await digest.publish_due():
            log.info("weekly digest published")


async def start(instance: Instance) -> asyncio.Task[None] | None:
    """Arm every stored deadline and the digest; returns the task that keeps them."""
    adapter = ApsDeadlineScheduler(instance)
    app = instance.app
    adapter.scheduler.start()
    if app.voting is not None:
        app.voting.scheduler = adapter
        await adapter._advance()
        count = await app.voting.rearm()
        log.info("scheduler: %d open round(s) armed", count)
    if app.digest is not None:
        s = app.digest.schedule
        adapter.scheduler.add_job(adapter._digest, "cron", day_of_week=s.weekday, hour=s.at.hour,
                                  minute=s.at.minute, timezone=s.timezone, id="digest", replace_existing=True,
                                  misfire_grace_time=3600, coalesce=True)
        await adapter._digest()

    async def keep() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            adapter.scheduler.shutdown(wait=False)

    return asyncio.create_task(keep(), name="scheduler")
