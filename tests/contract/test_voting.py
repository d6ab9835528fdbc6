"""Voting rounds on the real SQLite repositories: rules, phases, ranking, restarts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from core.announcements import Announcements
from core.clock import ManualClock
from core.commands.declaration import Post
from core.errors import NotFoundError, PermissionDeniedError, PhaseError, UsageError
from core.services.voting import VoteOutcome, VotingService
from core.views.rounds import STATUS_ENTRIES, results_reply, status_reply
from core.voting_model import BallotType, Phase, RoundRules
from storage.memory import MemoryTrackRepository, MemoryVotingRepository
from storage.memory_events import MemoryEventLog
from storage.sqlite.database import Database
from storage.sqlite.event_log import SqliteEventLog
from storage.sqlite.track_repository import SqliteTrackRepository
from storage.sqlite.voting_repository import SqliteVotingRepository
from tests.support.factories import make_track, member

ALICE, BOB, CAROL, DAVE = member("alice"), member("bob"), member("carol"), member("dave")


class Harness:
    def __init__(self, db: Database | None, clock: ManualClock) -> None:
        self.db = db
        self.clock = clock
        self.tracks = SqliteTrackRepository(db) if db else MemoryTrackRepository()
        self.events = SqliteEventLog(db) if db else MemoryEventLog()
        repo = SqliteVotingRepository(db) if db else MemoryVotingRepository()
        self.voting = VotingService(repo, self.tracks, clock, self.events)
        self.announcements = Announcements(self.tracks, self.voting, None)

    async def posts(self) -> list[Post]:
        """What the bots would post for every event recorded so far."""
        out: list[Post] = []
        for recorded in await self.events.after(0, 1000):
            out.extend(await self.announcements.posts_for(recorded))
        return out


@pytest.fixture(params=["sqlite", "memory"])
async def h(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "memory":
        yield Harness(None, ManualClock())
        return
    db = await Database.open(tmp_path / "db.sqlite3")
    yield Harness(db, ManualClock())
    await db.close()


async def _round(h: Harness, **rules) -> int:
    rnd = await h.voting.start(
        RoundRules(theme="Night drive", **rules), ALICE, "!room", timedelta(days=1), timedelta(days=1)
    )
    return rnd.id


async def _entered(h: Harness, who, title: str, rid: int) -> None:
    track = make_track(who, title)
    await h.tracks.add(track)
    await h.voting.submit(str(rid), track.id, who, account_age_days=365)


async def test_full_round_with_approval_ranking(h: Harness) -> None:
    rid = await _round(h)
    for who, title in ((BOB, "b-song"), (CAROL, "c-song"), (DAVE, "d-song")):
        await _entered(h, who, title, rid)
    with pytest.raises(PhaseError, match="opens at"):
        await h.voting.vote(str(rid), 1, ALICE, 1)
    h.clock.advance(timedelta(days=1, seconds=1))
    moved = await h.voting.advance_due()
    assert [r.phase for r in moved] == [Phase.VOTING]
    assert await h.voting.vote(str(rid), 1, ALICE, 1) == VoteOutcome.RECORDED
    assert await h.voting.vote(str(rid), 1, CAROL, 1) == VoteOutcome.RECORDED
    assert await h.voting.vote(str(rid), 2, BOB, 1) == VoteOutcome.RECORDED
    assert await h.voting.vote(str(rid), 1, DAVE, 1) == VoteOutcome.RECORDED
    assert await h.voting.vote(str(rid), 1, DAVE, 0) == VoteOutcome.WITHDRAWN
    with pytest.raises(PermissionDeniedError, match="own entry"):
        await h.voting.vote(str(rid), 1, BOB, 1)
    h.clock.advance(timedelta(days=1))
    moved = await h.voting.advance_due()
    assert [r.phase for r in moved] == [Phase.CLOSED]
    results = await results_reply(h.voting, h.tracks, await h.voting.closed(str(rid)))
    standings = results.data["standings"]
    assert [row["title"] for row in standings][:2] == ["b-song", "c-song"]
    assert standings[0]["votes"] == 2
    with pytest.raises(PhaseError, match="closed"):
        await h.voting.vote(str(rid), 2, ALICE, 1)
    titles = [p.reply.title for p in (await h.posts())]
    assert any("open for submissions" in (t or "") for t in titles)
    assert any("Voting is open" in (t or "") for t in titles)
    assert any((t or "").startswith("Results") for t in titles)


async def test_submission_rules(h: Harness) -> None:
    rid = await _round(h, entries_per_member=1)
    await _entered(h, BOB, "first", rid)
    with pytest.raises(UsageError, match="limit is 1"):
        await _entered(h, BOB, "second", rid)
    foreign = make_track(CAROL, "carol's")
    await h.tracks.add(foreign)
    with pytest.raises(PermissionDeniedError, match="you shared yourself"):
        await h.voting.submit(str(rid), foreign.id, DAVE)
    with pytest.raises(NotFoundError):
        await h.voting.submit(str(rid), "nonexistent", DAVE)
    h.clock.advance(timedelta(days=2))
    with pytest.raises(PhaseError, match="closed at"):
        await h.voting.submit(str(rid), foreign.id, CAROL)


async def test_score_ballots_changeable_and_bayesian(h: Harness) -> None:
    rid = await _round(h, ballot=BallotType.SCORE)
    await _entered(h, BOB, "one-five", rid)
    await _entered(h, CAROL, "many-fours", rid)
    h.clock.advance(timedelta(days=1, seconds=1))
    await h.voting.advance_due()
    assert await h.voting.vote(str(rid), 1, ALICE, 4) == VoteOutcome.RECORDED
    assert await h.voting.vote(str(rid), 1, ALICE, 5) == VoteOutcome.CHANGED
    voters = [member(f"v{i}") for i in range(9)]
    for index, voter in enumerate(voters):
        await h.voting.vote(str(rid), 2, voter, 4 if index == 0 else 5)
    with pytest.raises(UsageError, match="1 to 5"):
        await h.voting.vote(str(rid), 2, ALICE, 6)
    rnd = await h.voting.get(str(rid))
    standings = await h.voting.standings(rnd)
    assert standings[0].entry.number == 2  # nine ballots averaging 4.9 beat a single 5


async def test_approval_limit_and_eligibility(h: Harness) -> None:
    rid = await _round(h, max_approvals=1, min_account_age_days=30)
    await _entered(h, BOB, "b", rid)
    await _entered(h, CAROL, "c", rid)
    h.clock.advance(timedelta(days=1, seconds=1))
    await h.voting.advance_due()
    with pytest.raises(PermissionDeniedError, match="30 days"):
        await h.voting.vote(str(rid), 1, ALICE, 1, account_age_days=3)
    await h.voting.vote(str(rid), 1, ALICE, 1, account_age_days=40)
    with pytest.raises(UsageError, match="all 1 approvals"):
        await h.voting.vote(str(rid), 2, ALICE, 1, account_age_days=40)


async def test_round_survives_restart_and_missed_deadline(tmp_path: Path) -> None:
    clock = ManualClock()
    db = await Database.open(tmp_path / "db.sqlite3")
    h = Harness(db, clock)
    rid = await _round(h)
    await _entered(h, BOB, "b", rid)
    await db.close()
    clock.advance(timedelta(days=3))  # both deadlines pass while "down"
    db = await Database.open(tmp_path / "db.sqlite3")
    h = Harness(db, clock)
    moved = await h.voting.advance_due()
    assert [r.phase for r in moved] == [Phase.VOTING, Phase.CLOSED]
    assert (await h.voting.get(str(rid))).phase is Phase.CLOSED
    assert await h.voting.advance_due() == []  # idempotent
    await db.close()


async def test_round_without_entries_closes(h: Harness) -> None:
    rid = await _round(h)
    h.clock.advance(timedelta(days=1, seconds=1))
    await h.voting.advance_due()
    assert (await h.voting.get(str(rid))).phase is Phase.CLOSED
    assert "No entries" in (await h.posts())[-1].reply.text


async def test_track_votes(h: Harness) -> None:
    track = make_track(BOB)
    await h.tracks.add(track)
    assert await h.voting.vote_track(track.id, ALICE, 1) == VoteOutcome.RECORDED
    assert await h.voting.vote_track(track.id, ALICE, 1, toggle=True) == VoteOutcome.WITHDRAWN
    with pytest.raises(PermissionDeniedError):
        await h.voting.vote_track(track.id, BOB, 1)
    await h.voting.vote_track(track.id, CAROL, 1)
    top = await h.voting.top_tracks(h.clock.now() - timedelta(days=7), 10)
    assert top == [(track.id, 1, 1)]


async def test_anonymous_entries_until_results(h: Harness) -> None:
    rid = await _round(h, anonymous=True)
    await _entered(h, BOB, "b", rid)
    await _entered(h, CAROL, "c", rid)
    h.clock.advance(timedelta(days=1, seconds=1))
    await h.voting.advance_due()
    entries = [p.reply for p in (await h.posts()) if p.reply.data.get("entry")]
    assert entries and all("anonymous" in r.text and "Bob" not in r.text for r in entries)
    assert all(card.sharer.display_name == "anonymous" for r in entries for card in r.cards)
    rnd = await h.voting.get(str(rid))
    assert "Bob" not in (await status_reply(h.tracks, rnd, await h.voting.entries(rnd), 0)).text
    await h.voting.vote(str(rid), 1, ALICE, 1)
    h.clock.advance(timedelta(days=1))
    await h.voting.advance_due()
    results = await results_reply(h.voting, h.tracks, await h.voting.closed(str(rid)))
    assert any("Bob" in value for _, value in results.fields)


async def test_status_of_a_big_round_lists_the_first_entries_and_counts_voters(h: Harness) -> None:
    rid = await _round(h, entries_per_member=10)
    for n in range(STATUS_ENTRIES + 3):
        who = member(f"m{n // 10}")
        await _entered(h, who, f"song {n:02d}", rid)
    h.clock.advance(timedelta(days=1, seconds=1))
    await h.voting.advance_due()
    for voter in (ALICE, member("zed")):
        await h.voting.vote(str(rid), 1, voter, 1)
        await h.voting.vote(str(rid), 2, voter, 1)
    rnd = await h.voting.get(str(rid))
    assert await h.voting.voter_count(rnd) == 2
    text = (await status_reply(h.tracks, rnd, await h.voting.entries(rnd), await h.voting.voter_count(rnd))).text
    assert f"Entries: {STATUS_ENTRIES + 3} · voters: 2" in text
    assert f"song {STATUS_ENTRIES - 1:02d}" in text and f"song {STATUS_ENTRIES:02d}" not in text
    assert "… and 3 more" in text
    # what `round status` runs: the first entries and the count, not every entry; the same answer
    shown, count = await h.voting.first_entries(rnd, STATUS_ENTRIES)
    assert [e.number for e in shown] == list(range(1, STATUS_ENTRIES + 1)) and count == STATUS_ENTRIES + 3
    assert (await status_reply(h.tracks, rnd, shown, 2, entry_count=count)).text == text
