"""Cross-community rounds as moderators and members read them."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from core.events.model import DomainEvent, EventKind
from core.federated_round_model import FederatedResults, FederatedRound, Participation, RoundEntry, Tally
from core.model import TrackId
from core.ports import TrackRepository
from core.replies import Post, Reply, command_hint
from core.services.federated_rounds import FederatedRoundService
from core.services.voting import VotingService
from core.views.rounds import entry_reply, voting_open_reply, when_text
from core.voting_model import BallotType, Round, anonymised

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


def rescheduled_reply(fed: FederatedRound) -> Reply:
    """The organiser closed a phase early: the deadlines every community now keeps."""
    return Reply(
        title=f"{fed.organiser_name} closed a phase of the cross-community round {fed.label} early",
        text=f"Submissions until {when_text(fed.submit_until)}, voting until {when_text(fed.vote_until)}.",
        data={"federated_round": fed.id, "submit_until": fed.submit_until, "vote_until": fed.vote_until},
    )


def cancelled_reply(fed: FederatedRound) -> Reply:
    """The organiser cancelled the round before voting."""
    return Reply(
        title=f"The cross-community round {fed.label} was cancelled",
        text=f"{fed.organiser_name}, which organised it, cancelled it before voting. It ends here without results.",
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
        Participation.CANCELLED: "cancelled by the organiser",
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


async def entry_card_reply(
    tracks: TrackRepository, fed: FederatedRound, rnd: Round, entry: RoundEntry, community: str
) -> Reply:
    """A peer community's entry before voting: its card, or "still arriving" until its audio is here."""
    track = await tracks.get(TrackId(entry.track_id))
    hide = rnd.hides_entrants
    title = track.title if track is not None and not hide else (entry.title or "an entry")
    who = "" if hide or not entry.submitter_name else f" by {entry.submitter_name}"
    card = (anonymised(track) if hide else track) if track is not None else None
    state = "" if track is not None else " — still arriving (its audio is on its way)"
    return Reply(
        title=f"Round {rnd.label} — entry from {community}",
        text=f"{title}{who} from {community}{state}",
        cards=(card,) if card is not None else (),
        data={"round": rnd.id, "federated_round": fed.id, "track": entry.track_id, "arrived": track is not None},
    )


async def arrival_posts(
    service: FederatedRoundService, voting: VotingService, tracks: TrackRepository, track_id: TrackId
) -> list[Post]:
    """The entry cards a peer track's arrival completes (rounds still taking entries)."""
    posts: list[Post] = []
    for fed, entry in await service.entering(track_id):
        rnd = await voting.get(fed.local_round)  # type: ignore[arg-type]  # entering() keeps linked rounds
        community = (await service.participants(fed)).get(entry.origin, entry.origin)
        reply = await entry_card_reply(tracks, fed, rnd, entry, community)
        posts.append(Post(f"round:{rnd.id}", fallback=(rnd.created_by.platform, rnd.place), reply=reply))
    return posts


async def _voting_posts(
    service: FederatedRoundService, voting: VotingService, tracks: TrackRepository, fed: FederatedRound, rnd: Round
) -> list[Reply]:
    """Voting opened: the local round's cards, each saying its community; "still arriving" without audio."""
    entries = await voting.entries(rnd)
    by_track = {e.track_id: e for e in await service.entries(fed)}
    participants = await service.participants(fed)
    replies = [voting_open_reply(rnd, len(entries))]
    for entry in entries:
        reply = await entry_reply(tracks, rnd, entry)
        known = by_track.get(entry.track_id)
        if known is not None:
            community = participants.get(known.origin, known.origin)
            arriving = "" if reply.cards else f" — {known.title or 'its audio'} is still arriving"
            reply = dataclasses.replace(reply, text=f"{reply.text} from {community}{arriving}")
        replies.append(reply)
    return replies


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
    if event.kind is EventKind.FEDERATED_ROUND_ENTRY and event.track_id is not None:
        entry = next((e for e in await service.entries(fed) if e.track_id == event.track_id), None)
        if entry is None:
            return []
        community = (await service.participants(fed)).get(entry.origin, entry.origin)
        return [Post(target, fallback=here, reply=await entry_card_reply(tracks, fed, rnd, entry, community))]
    if event.kind is EventKind.ROUND_VOTING_OPENED:
        return [Post(target, fallback=here, reply=r) for r in await _voting_posts(service, voting, tracks, fed, rnd)]
    if event.kind is EventKind.FEDERATED_ROUND_RESCHEDULED:
        return [Post(target, fallback=here, reply=rescheduled_reply(fed))]
    if event.kind is EventKind.FEDERATED_ROUND_CANCELLED:
        return [Post(target, fallback=here, reply=cancelled_reply(fed))]
    if event.kind is EventKind.FEDERATED_ROUND_LEFT:
        return [Post(target, fallback=here, reply=left_reply(fed))]
    if event.kind is EventKind.ROUND_CLOSED:
        return [Post(target, fallback=here, reply=counting_reply(fed))]
    if event.kind is EventKind.FEDERATED_ROUND_RESULTS:
        reply = await federated_results_reply(tracks, fed, await service.entries(fed), await service.results(fed))
        return [Post(target, fallback=here, reply=reply)]
    return None  # started, voting opened: the local round's posts
