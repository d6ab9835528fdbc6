"""Voting rounds as members read them: rules, announcements, entry cards, standings, status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core.model import Track
from core.ports import TrackRepository
from core.replies import Button, Reply, VoteChoice, command_hint, moment
from core.services.voting import VoteOutcome, VotingService
from core.voting_model import BallotType, Entry, Phase, Round, anonymised

OUTCOME_WORDS = {
    VoteOutcome.RECORDED: "Vote recorded.",
    VoteOutcome.CHANGED: "Vote changed.",
    VoteOutcome.WITHDRAWN: "Vote withdrawn.",
    VoteOutcome.NOTHING_TO_WITHDRAW: "You had no vote to withdraw.",
    VoteOutcome.ALREADY_VOTED: "You already voted for this track.",
}


STATUS_ENTRIES = 50  # a status lists this many entries; 5,000 lines help nobody


def when_text(when: datetime) -> str:
    """A deadline as members read it: each platform writes it relative and absolute."""
    return moment(when)


def rules_text(rnd: Round) -> str:
    """A round's rules, one per line."""
    rules = rnd.rules
    ballot = (
        f"approval (up to {rules.max_approvals} votes each)" if rules.ballot is BallotType.APPROVAL else "score 1-5"
    )
    lines = [
        f"Theme: {rules.theme}",
        f"Ballot: {ballot}",
        f"Entries per member: {rules.entries_per_member}",
        f"Voting: {when_text(rnd.submit_until)} → {when_text(rnd.vote_until)}",
    ]
    if rules.genre:
        lines.append(f"Genre: {rules.genre}")
    if rules.min_account_age_days:
        lines.append(f"Members for at least {rules.min_account_age_days:g} days")
    if rules.required_role:
        lines.append(f"Role needed: {rules.required_role}")
    if rules.anonymous:
        lines.append("Entries are anonymous until the results")
    return "\n".join(lines)


def started_reply(rnd: Round) -> Reply:
    """The announcement of a round open for submissions."""
    return Reply(
        title=f"Round {rnd.label} is open for submissions",
        text=rules_text(rnd)
        + f"\nSubmit with `{command_hint(f'round submit {rnd.id} <track>')}` until {when_text(rnd.submit_until)}.",
    )


def voting_open_reply(rnd: Round, entries: int) -> Reply:
    """The announcement that voting opened (the entry cards follow)."""
    how = (
        f" — up to {rnd.rules.max_approvals} approvals each."
        if rnd.rules.ballot is BallotType.APPROVAL
        else " — score each entry 1-5."
    )
    return Reply(
        title=f"Voting is open: round {rnd.label}",
        text=f"{entries} entr{'y' if entries == 1 else 'ies'}. Vote until {when_text(rnd.vote_until)}{how}",
    )


def closed_empty_reply(rnd: Round) -> Reply:
    """A round that closed without entries."""
    return Reply(title=f"Round {rnd.label} closed", text="No entries were submitted.")


async def entry_reply(tracks: TrackRepository, rnd: Round, entry: Entry) -> Reply:
    """A round entry as a card with its ballot buttons (anonymous until the results)."""
    track = await tracks.get(entry.track_id)
    who = "anonymous" if rnd.hides_entrants else entry.submitter.display_name
    if rnd.rules.ballot is BallotType.APPROVAL:
        buttons: tuple[Button, ...] = (Button.vote("👍", VoteChoice.ballot(rnd.id, entry.number, 1)),)
    else:
        buttons = tuple(Button.vote(str(v), VoteChoice.ballot(rnd.id, entry.number, v)) for v in range(1, 6))
    card = anonymised(track) if track and rnd.hides_entrants else track
    return Reply(
        title=f"Round {rnd.label} — entry {entry.number}",
        text=f"Entry {entry.number} by {who}",
        cards=(card,) if card else (),
        buttons=buttons,
        data={"round": rnd.id, "entry": entry.number, "track": entry.track_id},  # "track": its audio follows
    )


async def results_reply(voting: VotingService, tracks: TrackRepository, rnd: Round) -> Reply:
    """The ranking with the winners' cards."""
    standings = await voting.standings(rnd)
    hide = rnd.hides_entrants
    fields: list[tuple[str, str]] = []
    cards: list[Track] = []
    rows: list[dict[str, object]] = []
    for standing in standings:
        track = await tracks.get(standing.entry.track_id)
        title = track.title if track else standing.entry.track_id
        who = "anonymous" if hide else standing.entry.submitter.display_name
        tally = (
            f"{standing.votes} vote{'s' if standing.votes != 1 else ''}"
            if rnd.rules.ballot is BallotType.APPROVAL
            else f"avg {standing.total / standing.votes:.2f} from {standing.votes}"
            if standing.votes
            else "no votes"
        )
        fields.append((f"{standing.rank}. {title}"[:256], f"{who} · {tally}"))
        rows.append(
            {
                "rank": standing.rank,
                "entry": standing.entry.number,
                "track": standing.entry.track_id,
                "title": title,
                "by": who,
                "votes": standing.votes,
                "total": standing.total,
                "score": round(standing.score, 4),
            }
        )
        if track and standing.rank <= 3 and not hide:
            cards.append(track)
    state = "Results" if rnd.phase is Phase.CLOSED else "Standings so far"
    return Reply(
        title=f"{state}: round {rnd.label}",
        text="" if fields else "No entries.",  # the ranking once: as fields (Discord embed fields, Matrix rows)
        cards=tuple(cards),
        fields=tuple(fields),
        data={"round": rnd.id, "phase": rnd.phase.value, "standings": rows},
    )


async def status_reply(
    tracks: TrackRepository, rnd: Round, entries: Sequence[Entry], voters: int, entry_count: int | None = None
) -> Reply:
    """Phase, deadlines and the first entries of a round (a big round lists STATUS_ENTRIES of them);
    ``entry_count`` when ``entries`` are only the first ones."""
    total = len(entries) if entry_count is None else entry_count
    deadline = {
        Phase.SUBMISSION: f"submissions close {when_text(rnd.submit_until)}",
        Phase.VOTING: f"voting closes {when_text(rnd.vote_until)}",
        Phase.CLOSED: "closed",
    }[rnd.phase]
    lines = [
        rules_text(rnd),
        f"Phase: {rnd.phase.value} — {deadline}",
        f"Entries: {total} · voters: {voters}",
    ]
    shown = entries[:STATUS_ENTRIES]
    found = await tracks.get_many([entry.track_id for entry in shown])
    for entry in shown:
        track = found.get(entry.track_id)
        who = "anonymous" if rnd.hides_entrants else entry.submitter.display_name
        lines.append(f"  {entry.number}. {track.title if track else entry.track_id} — {who}")
    if total > len(shown):
        lines.append(f"  … and {total - len(shown)} more: each entry has its own card in the round's posts")
    return Reply(
        title=f"Round {rnd.label}",
        text="\n".join(lines),
        data={"round": rnd.id, "phase": rnd.phase.value, "entries": total},
    )
