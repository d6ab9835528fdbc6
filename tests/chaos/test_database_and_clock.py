"""Another program holds SQLite's write lock; the clock jumps past a round's deadline. Votes
either land once or are refused in words, and the instance serves again without a restart."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bots.instance import Instance
from bots.runtime import open_instance
from config import load_settings
from core.clock import ManualClock
from core.commands.declaration import Invocation, Permission, Reply
from core.commands.dispatch import execute
from core.commands.parsing import parse_chat
from core.errors import DATABASE_BUSY_TEXT
from core.events.model import EventKind
from core.model import Share, Sharer
from core.voting_model import Phase, RoundRules
from tests.support.factories import make_track, member
from tests.support.instances import write_config

BOB, CAROL, DAVE, ERIN, MOD = (member(n) for n in ("bob", "carol", "dave", "erin", "mod"))

HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("CREATE TABLE IF NOT EXISTS chaos_probe(x)")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
"""


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def instance(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Instance]:
    config = write_config(tmp_path / "c.toml", tmp_path / "data")
    async with open_instance(load_settings(config, environ={}), clock=clock) as opened:
        yield opened


async def _run(instance: Instance, text: str, who: Sharer) -> Reply:
    command, args = parse_chat(instance.registry, text)
    permission = Permission.MODERATOR if who == MOD else Permission.MEMBER
    inv = Invocation(who.platform, who.user_id, who.display_name, "!r:hs", permission, args, account_age_days=365)
    return await execute(command, inv)


async def _voting_round(instance: Instance) -> int:
    voting = instance.app.voting
    assert voting is not None
    rnd = await voting.start(RoundRules(theme="Chaos"), MOD, "!r:hs", timedelta(hours=1), timedelta(hours=1))
    for who in (BOB, CAROL):
        track = make_track(who, f"by {who.display_name}")
        await instance.app.tracks.add(track, Share(track.id, who, track.first_seen_at, "!r:hs"))
        await voting.submit(str(rnd.id), track.id, who, account_age_days=365)
    await voting.close_phase(str(rnd.id), MOD)
    return rnd.id


async def _ballots(instance: Instance, round_id: int) -> list[tuple[str, int]]:
    voting = instance.app.voting
    assert voting is not None
    return sorted((b.voter.user_id, b.entry) for b in await voting.ballots(await voting.get(round_id)))


async def test_a_write_lock_held_by_another_process_refuses_in_words_then_serves(instance: Instance) -> None:
    rid = await _voting_round(instance)
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HOLDER,
        str(instance.data_dir / "wavepool.sqlite3"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert (await asyncio.wait_for(holder.stdout.readline(), 30)).strip() == b"locked"
        status = await _run(instance, f"round status {rid}", DAVE)  # readers are not blocked (WAL)
        assert not status.failed and "Chaos" in status.text
        refused = await _run(instance, f"round vote {rid} 1", DAVE)  # waits busy_timeout (5 s), then says so
        assert refused.failed and refused.text == DATABASE_BUSY_TEXT, refused.text
        waiting = asyncio.create_task(_run(instance, f"round vote {rid} 2", ERIN))
    finally:
        holder.stdin.write(b"go\n")
        await holder.stdin.drain()
        assert await asyncio.wait_for(holder.wait(), 30) == 0
    assert not (await asyncio.wait_for(waiting, 30)).failed  # the vote that waited for the lock landed
    again = await _run(instance, f"round vote {rid} 1", DAVE)
    assert not again.failed, again.text
    assert await _ballots(instance, rid) == [
        (DAVE.user_id, 1),
        (ERIN.user_id, 2),
    ]  # once each, the refusal left nothing


async def test_the_clock_jumping_past_the_deadline_closes_the_round_once(
    instance: Instance, clock: ManualClock
) -> None:
    voting = instance.app.voting
    assert voting is not None
    rid = await _voting_round(instance)
    assert not (await _run(instance, f"round vote {rid} 1", DAVE)).failed
    clock.advance(timedelta(hours=5))  # NTP step, a suspended VM waking up: far past the vote deadline
    late = await _run(instance, f"round vote {rid} 2", ERIN)  # before the scheduler has fired
    assert late.failed and "closed at" in late.text
    moved = await voting.advance_due()  # the scheduler's timer (or start-up catch-up) fires
    assert [r.phase for r in moved] == [Phase.CLOSED]
    assert await voting.advance_due() == []  # a second firing (timer + catch-up) changes nothing
    closed = [e for e in await instance.events.after(0, 1000) if e.kind is EventKind.ROUND_CLOSED]
    assert len(closed) == 1
    results = await _run(instance, f"round results {rid}", ERIN)
    assert not results.failed and results.data["standings"][0]["votes"] == 1
    assert await _ballots(instance, rid) == [(DAVE.user_id, 1)]
    clock.advance(timedelta(hours=-3))  # and back: a closed round stays closed
    assert (await voting.get(rid)).phase is Phase.CLOSED
    assert (await _run(instance, f"round vote {rid} 1", ERIN)).failed
    assert await _ballots(instance, rid) == [(DAVE.user_id, 1)]
