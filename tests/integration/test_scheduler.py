"""Round deadlines through the real apscheduler part: armed at start, fired on time or at once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from core.voting_model import Phase, RoundRules
from tests.support.factories import make_track, member
from tests.support.instances import eventually, running, write_config

PARTS = ("bots.scheduler_part",)


async def _round_with_entry(instance) -> int:  # type: ignore[no-untyped-def]
    voting = instance.app.voting
    rnd = await voting.start(
        RoundRules(theme="Deadlines"), member("mod"), "cli", timedelta(minutes=5), timedelta(minutes=5)
    )
    bob = member("bob")
    track = make_track(bob, "entry")
    await instance.app.tracks.add(track)
    await voting.submit(str(rnd.id), track.id, bob)
    return rnd.id


async def test_deadline_that_passed_while_down_fires_at_start(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", tmp_path / "data")
    async with running(config, ()) as run:  # no scheduler: the instance is "down" for deadlines
        round_id = await _round_with_entry(run.instance)
        now = run.instance.app.clock.now()
        await run.instance.db.execute(
            "UPDATE rounds SET submit_until = ?, vote_until = ? WHERE id = ?",
            ((now - timedelta(hours=2)).isoformat(), (now - timedelta(hours=1)).isoformat(), round_id),
        )
    async with running(config, PARTS) as run:
        rnd = await run.instance.app.voting.get(str(round_id))
        assert rnd.phase is Phase.CLOSED
        titles = [
            p.reply.title or ""
            for e in await run.instance.events.after(0)
            for p in await run.instance.announcements.posts_for(e)
        ]
        assert any(t.startswith("Voting is open") for t in titles) and any(t.startswith("Results") for t in titles)


async def test_deadlines_fire_on_time_after_a_restart(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", tmp_path / "data")
    async with running(config, PARTS) as run:
        round_id = await _round_with_entry(run.instance)
    async with running(config, ()) as run:  # deadlines moved while the scheduler is down
        now = run.instance.app.clock.now()
        await run.instance.db.execute(
            "UPDATE rounds SET submit_until = ?, vote_until = ? WHERE id = ?",
            ((now + timedelta(seconds=2)).isoformat(), (now + timedelta(seconds=3)).isoformat(), round_id),
        )
    async with running(config, PARTS) as run:  # restarted: deadlines re-armed from the database
        voting = run.instance.app.voting
        assert (await voting.get(str(round_id))).phase is Phase.SUBMISSION

        async def closed() -> bool:
            return (await voting.get(str(round_id))).phase is Phase.CLOSED

        await eventually(closed, 15, "the round to close on schedule")
