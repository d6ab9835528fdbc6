"""Cross-community rounds as moderators and members read them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.events.model import DomainEvent, EventKind
from core.federated_round_model import FederatedResults, FederatedRound, Participation, RoundEntry, Tally
from core.model import TrackId
from core.ports import TrackRepository
from core.replies import Post, Reply, command_hint
from core.services.federated_rounds import FederatedRoundService
from core.services.voting import VotingService
from core.views.rounds import when_text
from core.voting_model import BallotType

MODERATORS_TARGET = "moderators"  # `channel set moderators <place>`; nowhere when unset


def federated_rules_text(fed: FederatedRound) -> str:
    """The announced rules, one per line."""
    ballot = f"approval (up to {fed.max_approvals} votes each)" if fed.ballot is BallotType.APPROVAL else "score 1-5"
    lines = [
        f"Theme: {fed.theme}",
        f"Organised by: {fed.organiser_name}",
        f"Ballot: {ballot}",
        f"Entries per member: {fed.entries_per_member}",
        f"Submissions until {when_text(fed.submit_until)}, voting until {when_text(fed.vote_until)}",
        f"Tallies until {when_text(fed.tally_until)}",
    ]
    if fed.genre:
        lines.append(f"Genre: {fed.genre}")
    if fed.min_account_age_days:
        lines.append(f"Members for at least {fed.min_account_age_days:g} days")
    if fed.anonymous:
        lines.append("Entries are anonymous until the results")
    if fed.cap_share is not None:
        lines.append(f"No community counts for more than {fed.cap_share:.0%} of the voters")
    return "\n".join(lines)


def invited_reply(fed: FederatedRound) -> Reply:
    """What moderators see when a peer announces a round."""
    return Reply(
        title=f"Cross-community round announced by {fed.organiser_name}",
        text=federated_rules_text(fed)
        + f"\nTo take part: `{command_hint(f'round join {fed.id}')}` before {when_text(fed.submit_until)}."
        + " Nothing appears in this community until then.",
        data={"federated_round": fed.id},
    )


def left_reply(fed: FederatedRound) -> Reply:
    """A community left a round before voting."""
    return Reply(
        title=f"This community left the cross-community round {fed.label}",
        text="Its entries here will not be voted on.",
        data={"federated_round": fed.id},
    )


def counting_reply(fed: FederatedRound) -> Reply:
    """Voting closed here; the results wait for the other communities' tallies."""
    return Reply(
        title=f"Voting closed in the cross-community round {fed.label}",
        text=f"The results come when every community's tally is in (at the latest {when_text(fed.tally_until)}).",
        data={"federated_round": fed.id},
    )


def status_reply(
    fed: FederatedRound,
    participants: Mapping[str, str],
    held: Sequence[tuple[RoundEntry, bool]],
    tallies: Sequence[Tally],
) -> Reply:
    """Participants, entries (here or still arriving) and tallies received."""
    where = {
        Participation.ORGANISER: "organised here",
        Participation.INVITED: "not joined",
        Participation.JOINED: "joined",
        Participation.LEFT: "left",
    }[fed.participation]
    lines = [federated_rules_text(fed), f"This community: {where}", "Communities: " + ", ".join(participants.values())]
    lines.append(f"Entries: {len(held)}")
    for entry, here in held:
        by = "" if fed.anonymous or not entry.submitter_name else f" by {entry.submitter_name}"
        lines.append(
            f"  {entry.cid[:16]}…{by} from {participants.get(entry.origin, entry.origin)}: "
            + ("here" if here else "still arriving")
        )
    for tally in tallies:
        lines.append(f"Tally from {tally.name}: {tally.voters} voter(s) ({tally.status.value})")
    return Reply(title=f"Cross-community round {fed.label}", text="\n".join(lines), data={"federated_round": fed.id})


async def federated_results_reply(
    tracks: TrackRepository, fed: FederatedRound, entries: Sequence[RoundEntry], results: FederatedResults
) -> Reply:
    """The combined ranking with each community's part, its tally, and what did not count."""
    by_cid = {e.cid: e for e in entries}
    lines: list[str] = []
    for standing in results.standings:
        entry = by_cid.get(standing.cid)
        track = await tracks.get(TrackId(entry.track_id)) if entry is not None else None
        title = track.title if track is not None else standing.cid[:16] + "…"
        who = entry.submitter_name if entry is not None and entry.submitter_name else None
        if who is None and track is not None:
            who = track.sharer.display_name
        parts = ", ".join(f"{name} {voters}" for name, voters, _total in sorted(standing.by_community)) or "no votes"
        votes = f"{standing.votes:g}" if fed.ballot is BallotType.APPROVAL else f"{standing.total:g} points"
        lines.append(f"{standing.rank}. {title}" + (f" by {who}" if who else "") + f" — {votes} ({parts})")
    lines.append("")
    lines.append("Tallies counted:")
    for part in results.communities:
        weight = "" if part.weight == 1.0 else f", weight capped to {part.weight:.2f}"
        flag = ", flagged: more voters than active members" if part.flagged else ""
        lines.append(f"  {part.name}: {part.voters} voter(s){weight}{flag}")
    if results.not_counted:
        lines.append("Not counted:")
        lines += [f"  {name}: {reason}" for name, reason in results.not_counted]
    return Reply(
        title=f"Results of the cross-community round {fed.label}",
        text="\n".join(lines),
        data={
            "federated_round": fed.id,
            "ranking": [(s.rank, s.cid) for s in results.standings],
            "communities": [(c.name, c.voters, c.weight, c.flagged) for c in results.communities],
            "not_counted": list(results.not_counted),
        },
    )


async def federated_posts(
    service: FederatedRoundService, voting: VotingService | None, tracks: TrackRepository, event: DomainEvent
) -> list[Post] | None:
    """The posts of a cross-community round event; None when the event is not about one."""
    if event.kind is EventKind.FEDERATED_ROUND_ANNOUNCED and event.federated_round is not None:
        # Moderators decide: the moderators' place only (never the community's default place).
        return [Post(MODERATORS_TARGET, invited_reply(await service.get(event.federated_round)))]
    if event.round_id is None or voting is None:
        return None
    fed = await service.linked(event.round_id)
    if fed is None:
        return None
    rnd = await voting.get(event.round_id)
    target, here = f"round:{rnd.id}", (rnd.created_by.platform, rnd.place)
    if event.kind is EventKind.FEDERATED_ROUND_LEFT:
        return [Post(target, fallback=here, reply=left_reply(fed))]
    if event.kind is EventKind.ROUND_CLOSED:
        return [Post(target, fallback=here, reply=counting_reply(fed))]
    if event.kind is EventKind.FEDERATED_ROUND_RESULTS:
        reply = await federated_results_reply(tracks, fed, await service.entries(fed), await service.results(fed))
        return [Post(target, fallback=here, reply=reply)]
    return None  # started, voting opened: the local round's posts
