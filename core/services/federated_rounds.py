"""Cross-community rounds: one round, many communities, each voting where it lives.

The organiser's moderator starts a local round with ``--federated <room>``; the round is
announced (signed) in that federation room. Peers keep the announcement as *invited* and
tell their moderators; nothing reaches their members until a moderator joins, which
creates a local round with the announced deadlines (a federated round here *is* a local
round with a federation link, so submissions, ballots, eligibility and self-vote rules are
the local ones). Leaving is possible until voting opens.

Entries are pool tracks: each participant publishes its members' entries (CID, track id,
the member's pseudonym) and imports the other participants' entries into its local round.
When voting closes each participant sends a tally of its own voters; once this instance
has seen its own tally come back from the room (so it has read everything before it) and
every participant's tally is in, or the tally deadline has passed, it combines the
tallies (``core.services.federated_tally``) and records the results event.

What goes over the wire is decided in ``core.federation.round_exchange``: this service
only queues what to send (``outbox_add``) in the same transaction as the change.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from core.errors import NotFoundError, PermissionDeniedError, PhaseError, UsageError
from core.events.model import DomainEvent, EventKind
from core.events.ports import EventLog
from core.federated_round_model import (
    EntryCount,
    FederatedResults,
    FederatedRound,
    Member,
    Participation,
    RoundEntry,
    Tally,
    TallyStatus,
)
from core.federated_round_ports import FederatedRoundStore
from core.model import Sharer, TrackId
from core.ports import Clock, TrackRepository, VotingRepository
from core.services.federated_tally import combine
from core.voting_model import Phase, Round, RoundRules

log = logging.getLogger(__name__)

ENTRY_GRACE = timedelta(seconds=30)  # an entry made just before the deadline may be sent a poll later
SETTLE = timedelta(seconds=20)  # after the tally deadline, time for tallies sent in time to be read
DEFAULT_TALLY_WINDOW = timedelta(minutes=10)
ACTIVE_WINDOW = timedelta(days=90)  # "active members": shared or voted in this window before the round
FEDERATION_PLATFORM = "federation"


def member_pseudonym(instance: str, sharer: Sharer) -> str:
    """The member's pseudonym at its instance (the same hash manifests use)."""
    return hashlib.sha256(f"{instance}\x00{sharer.platform}\x00{sharer.user_id}".encode()).hexdigest()[:20]


def when_text_utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def check_options(cap_share: float | None, tally_window: timedelta) -> None:
    """UsageError unless the cap and the tally window are sensible."""
    if cap_share is not None and not 0 < cap_share <= 1:
        raise UsageError("the cap is a share of all voters, between 0 and 1 (e.g. 0.5)")
    if not timedelta(seconds=10) <= tally_window <= timedelta(days=2):
        raise UsageError("the tally window must be between 10 seconds and 2 days")


class FederatedRoundService:
    """Announce, join, leave; exchange entries and tallies; combine the results."""

    def __init__(
        self,
        store: FederatedRoundStore,
        rounds: VotingRepository,
        tracks: TrackRepository,
        clock: Clock,
        events: EventLog,
        instance_id: str,
        instance_name: str,
    ) -> None:
        self.store = store
        self._rounds = rounds
        self._tracks = tracks
        self._clock = clock
        self._events = events
        self.voting_repo, self.clock, self.events = rounds, clock, events  # for the organiser's controls
        self.instance_id = instance_id
        self.instance_name = instance_name

    # -- the organiser -----------------------------------------------------------------

    async def announce(
        self, rnd: Round, room: str, cap_share: float | None = None, tally_window: timedelta = DEFAULT_TALLY_WINDOW
    ) -> FederatedRound:
        """Link a local round just started to a federated round announced in ``room``."""
        check_options(cap_share, tally_window)
        rules = rnd.rules
        fed = FederatedRound(
            id=f"{self.instance_id}:{rnd.id}",
            organiser=self.instance_id,
            organiser_name=self.instance_name,
            room=room,
            theme=rules.theme,
            ballot=rules.ballot,
            max_approvals=rules.max_approvals,
            entries_per_member=rules.entries_per_member,
            anonymous=rules.anonymous,
            genre=rules.genre,
            min_account_age_days=rules.min_account_age_days,
            cap_share=cap_share,
            submit_until=rnd.submit_until,
            vote_until=rnd.vote_until,
            tally_until=rnd.vote_until + tally_window,
            participation=Participation.ORGANISER,
            local_round=rnd.id,
            announced_at=self._clock.now(),
        )
        async with self._events.transaction():
            await self.store.save_round(fed)
            await self.store.outbox_add(room, "announce", {"round": fed.id})
        return fed

    # -- what peers announce -----------------------------------------------------------

    async def take_announcement(self, fed: FederatedRound) -> bool:
        """A peer's announcement (verified): kept as invited, and moderators hear of it."""
        if fed.organiser == self.instance_id:
            return False  # our own, back from the room
        async with self._events.transaction():
            if not await self.store.save_round(fed):
                return False
            if self._clock.now() < fed.submit_until:  # read after downtime too late to join: no notice
                await self._events.record(
                    DomainEvent(EventKind.FEDERATED_ROUND_ANNOUNCED, federated_round=fed.id, peer=fed.organiser_name),
                    self._clock.now(),
                )
        return True

    async def take_member(self, member: Member) -> bool:
        """An opt-in or leave (verified); only those sent before voting opens count."""
        fed = await self.store.get_round(member.round_id)
        if fed is None or member.sent_at >= fed.submit_until or member.instance == fed.organiser:
            return False
        stored = await self.store.set_member(member)
        if stored and fed.takes_part and member.joined:
            await self.import_entries(fed)
        return stored

    async def take_entry(self, entry: RoundEntry) -> bool:
        """A participant's entry (verified); entered here when this instance takes part."""
        fed = await self.store.get_round(entry.round_id)
        if fed is None or entry.sent_at >= fed.submit_until + ENTRY_GRACE:
            return False
        stored = await self.store.add_entry(entry)
        if stored and fed.takes_part:
            await self.import_entries(fed)
        return stored

    async def take_tally(self, tally: Tally) -> bool:
        """A tally as received: verified or FORGED; whether it counts is decided at combining."""
        fed = await self.store.get_round(tally.round_id)
        if fed is None:
            return False
        return await self.store.add_tally(tally)

    # -- moderators of a participant ---------------------------------------------------

    async def get(self, ref: str) -> FederatedRound:
        """A federated round by id, by a unique prefix of its id, or by its local round number."""
        text = ref.strip().lstrip("#")
        if text.isdigit():
            found = await self.store.by_local_round(int(text))
            if found is not None:
                return found
        exact = await self.store.get_round(text)
        if exact is not None:
            return exact
        matches = [r for r in await self.store.recent_rounds(200) if r.id.startswith(text) or r.id.endswith(text)]
        if len(matches) == 1:
            return matches[0]
        raise NotFoundError(f"there is no federated round '{ref}'" if not matches else f"'{ref}' names several rounds")

    async def join(self, ref: str, by: Sharer, place: str) -> Round:
        """Opt in: the round starts here as a local round with the announced deadlines."""
        fed = await self.get(ref)
        now = self._clock.now()
        if fed.takes_part:
            raise UsageError(f"this community already takes part in round {fed.label}")
        if now >= fed.submit_until:
            raise PhaseError(
                f"joining round {fed.label} closed when voting opened at {when_text_utc(fed.submit_until)}"
            )
        rules = RoundRules(
            theme=fed.theme,
            genre=fed.genre,
            entries_per_member=fed.entries_per_member,
            ballot=fed.ballot,
            max_approvals=fed.max_approvals,
            min_account_age_days=fed.min_account_age_days,
            anonymous=fed.anonymous,
        )
        async with self._events.transaction():
            local = await self._rounds.create_round(rules, by, now, fed.submit_until, fed.vote_until, place)
            await self.store.set_participation(fed.id, Participation.JOINED, local.id)
            await self.store.outbox_add(fed.room, "member", {"round": fed.id, "joined": True})
            await self._events.record(DomainEvent(EventKind.ROUND_STARTED, round_id=local.id), now)
        await self.import_entries(await self.get(fed.id))
        return local

    async def leave(self, ref: str, by: Sharer) -> FederatedRound:
        """Opt out again, until voting opens; the local round ends without results."""
        fed = await self.get(ref)
        if fed.participation is Participation.ORGANISER:
            raise PermissionDeniedError("the organiser cannot leave its own round; close it instead")
        if fed.participation is not Participation.JOINED:
            raise UsageError(f"this community does not take part in round {fed.label}")
        now = self._clock.now()
        if now >= fed.submit_until:
            raise PhaseError(
                f"round {fed.label} is voting since {when_text_utc(fed.submit_until)}: it can no longer be left"
            )
        async with self._events.transaction():
            if fed.local_round is not None:
                await self._rounds.set_phase(fed.local_round, Phase.CLOSED, Phase.SUBMISSION)
            await self.store.set_participation(fed.id, Participation.LEFT, fed.local_round)
            await self.store.outbox_add(fed.room, "member", {"round": fed.id, "joined": False})
            await self._events.record(
                DomainEvent(EventKind.FEDERATED_ROUND_LEFT, round_id=fed.local_round, federated_round=fed.id), now
            )
        return await self.get(fed.id)

    # -- participants, entries ---------------------------------------------------------

    async def participants(self, fed: FederatedRound) -> dict[str, str]:
        """Instance id -> name of every instance taking part (the organiser and who opted in)."""
        out = {fed.organiser: fed.organiser_name}
        for member in await self.store.members(fed.id):
            if member.joined:
                out[member.instance] = member.name
        return out

    async def entries(self, fed: FederatedRound) -> list[RoundEntry]:
        """Entries of the participants, in CID order (the same on every instance)."""
        taking_part = await self.participants(fed)
        return sorted((e for e in await self.store.entries(fed.id) if e.origin in taking_part), key=lambda e: e.cid)

    async def import_entries(self, fed: FederatedRound) -> int:
        """Enter the other participants' entries into the local round; how many were new."""
        if fed.local_round is None or not fed.takes_part:
            return 0
        local = await self._rounds.get_round(fed.local_round)
        if local is None or local.phase is Phase.CLOSED:
            return 0
        present = {e.track_id for e in await self._rounds.entries(local.id)}
        added = 0
        for entry in await self.entries(fed):
            if entry.origin == self.instance_id or TrackId(entry.track_id) in present:
                continue
            submitter = Sharer(
                FEDERATION_PLATFORM, f"{entry.origin}/{entry.submitter}", entry.submitter_name or "anonymous"
            )
            async with self._events.transaction():
                await self._rounds.add_entry(local.id, TrackId(entry.track_id), submitter, entry.sent_at)
                await self._events.record(
                    DomainEvent(
                        EventKind.FEDERATED_ROUND_ENTRY,
                        round_id=local.id,
                        federated_round=fed.id,
                        track_id=TrackId(entry.track_id),
                    ),
                    self._clock.now(),
                )
            present.add(TrackId(entry.track_id))
            added += 1
        return added

    async def publish_entries(self, fed: FederatedRound) -> int:
        """Queue this instance's new local entries for the other participants."""
        if fed.local_round is None or not fed.takes_part or self._clock.now() >= fed.submit_until + ENTRY_GRACE:
            return 0  # (entries are made before submit_until; the grace covers the last poll)
        sent = 0
        for entry in await self._rounds.entries(fed.local_round):
            if entry.submitter.platform == FEDERATION_PLATFORM:
                continue
            track = await self._tracks.get(entry.track_id)
            if track is None:
                continue
            mine = RoundEntry(
                fed.id,
                track.cid,
                track.id,
                self.instance_id,
                member_pseudonym(self.instance_id, entry.submitter),
                None if fed.anonymous else entry.submitter.display_name,
                self._clock.now(),
                track.title,
            )
            async with self._events.transaction():
                if await self.store.add_entry(mine):
                    await self.store.outbox_add(fed.room, "entry", {"round": fed.id, "cid": track.cid})
                    sent += 1
        return sent

    async def held(self, fed: FederatedRound) -> list[tuple[RoundEntry, bool]]:
        """Every entry and whether its audio is here yet (else it is "still arriving")."""
        out: list[tuple[RoundEntry, bool]] = []
        for entry in await self.entries(fed):
            track = await self._tracks.get(TrackId(entry.track_id))
            out.append((entry, track is not None))  # a peer's track is recorded once its bytes are here
        return out

    async def entering(self, track_id: TrackId) -> list[tuple[FederatedRound, RoundEntry]]:
        """Rounds still taking entries that hold this peer track as an entry (its audio just arrived)."""
        now = self._clock.now()
        out: list[tuple[FederatedRound, RoundEntry]] = []
        for fed in await self.store.open_rounds():
            if not fed.takes_part or fed.local_round is None or now >= fed.submit_until:
                continue
            for entry in await self.entries(fed):
                if entry.track_id == track_id and entry.origin != self.instance_id:
                    out.append((fed, entry))
        return out

    # -- the close ---------------------------------------------------------------------

    async def own_tally(self, fed: FederatedRound) -> tuple[int, list[EntryCount]]:
        """This instance's voters and per-entry counts (keyed by CID; no member ids)."""
        if fed.local_round is None:
            return 0, []
        cid_of = {e.track_id: e.cid for e in await self.store.entries(fed.id)}
        number_to_cid: dict[int, str] = {}
        for entry in await self._rounds.entries(fed.local_round):
            cid = cid_of.get(entry.track_id)
            if cid is None:
                track = await self._tracks.get(entry.track_id)
                cid = track.cid if track is not None else None
            if cid is not None:
                number_to_cid[entry.number] = cid
        voters: set[tuple[str, str]] = set()
        sums: dict[str, list[int]] = {}
        for ballot in await self._rounds.ballots(fed.local_round):
            cid = number_to_cid.get(ballot.entry)
            if cid is None:
                continue
            voters.add((ballot.voter.platform, ballot.voter.user_id))
            sums.setdefault(cid, []).append(ballot.value)
        counts = [EntryCount(cid, len(values), sum(values)) for cid, values in sorted(sums.items())]
        return len(voters), counts

    async def advance_due(self) -> list[FederatedRound]:
        """Publish entries, import the others', send the tally at the close and combine the
        results when they are complete. Idempotent; the scheduler calls it often."""
        now = self._clock.now()
        done: list[FederatedRound] = []
        for fed in await self.store.open_rounds():
            if not fed.takes_part:
                if now >= fed.tally_until + SETTLE:
                    await self.store.set_results_at(fed.id, now)  # not ours: stop looking at it
                continue
            await self.publish_entries(fed)
            if now < fed.submit_until:
                continue
            await self.import_entries(fed)
            if now >= fed.vote_until and not fed.tally_sent:
                await self._send_tally(fed, now)
                continue
            if fed.tally_sent and await self._complete(fed, now):
                await self._post_results(fed, now)
                done.append(fed)
        return done

    async def _send_tally(self, fed: FederatedRound, now: datetime) -> None:
        voters, counts = await self.own_tally(fed)
        local = await self._rounds.get_round(fed.local_round) if fed.local_round is not None else None
        since = (local.created_at if local is not None else now) - ACTIVE_WINDOW
        active = await self.store.active_members(since, local.created_at if local is not None else now)
        payload = {
            "round": fed.id,
            "voters": voters,
            "active_members": active,
            "counts": [{"cid": c.cid, "voters": c.voters, "total": c.total} for c in counts],
            "late": now > fed.tally_until,
        }
        async with self._events.transaction():
            await self.store.outbox_add(fed.room, "tally", payload)
            await self.store.set_tally_sent(fed.id)
        log.info("tally of %s queued: %d voter(s)%s", fed.id, voters, " (late)" if payload["late"] else "")

    async def _complete(self, fed: FederatedRound, now: datetime) -> bool:
        tallies = await self.store.tallies(fed.id)
        if not any(t.instance == self.instance_id and t.status is not TallyStatus.FORGED for t in tallies):
            return False  # our own tally is not back from the room yet: we may not have read the others
        if now >= fed.tally_until + SETTLE:
            return True
        senders = {t.instance for t in tallies if t.status is not TallyStatus.FORGED and t.sent_at <= fed.tally_until}
        return set(await self.participants(fed)) <= senders

    async def _post_results(self, fed: FederatedRound, now: datetime) -> None:
        async with self._events.transaction():
            await self.store.set_results_at(fed.id, now)
            await self._events.record(
                DomainEvent(EventKind.FEDERATED_ROUND_RESULTS, round_id=fed.local_round, federated_round=fed.id), now
            )

    async def results(self, fed: FederatedRound) -> FederatedResults:
        """The combined ranking from the tallies received so far."""
        return combine(
            fed.ballot,
            [e.cid for e in await self.entries(fed)],
            await self.store.tallies(fed.id),
            await self.participants(fed),
            fed.tally_until,
            fed.cap_share,
        )

    async def linked(self, local_round: int) -> FederatedRound | None:
        """The federated round a local round runs for, if any."""
        return await self.store.by_local_round(local_round)

    async def recent(self, limit: int = 10) -> Sequence[FederatedRound]:
        """Federated rounds this instance knows, newest first."""
        return await self.store.recent_rounds(limit)
