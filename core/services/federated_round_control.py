"""The organiser's controls over a cross-community round: close a phase early, cancel.

Only the organising instance may change a round every community runs: its moderators
close the current phase (the new deadlines go out as a signed schedule update that the
participants apply) or cancel before voting opens (a signed cancel; participants close
their local rounds with a notice). Updates only ever bring deadlines forward, so a
replayed or reordered update cannot reopen a phase.
"""

from __future__ import annotations

import logging
from datetime import datetime

from core.errors import PermissionDeniedError, PhaseError
from core.events.model import DomainEvent, EventKind
from core.federated_round_model import FederatedRound, Participation
from core.model import Sharer
from core.services.federated_rounds import FederatedRoundService, when_text_utc
from core.voting_model import Phase

log = logging.getLogger(__name__)


class FederatedRoundControl:
    """Close a phase early and cancel (organiser); apply the organiser's updates (participants)."""

    def __init__(self, service: FederatedRoundService) -> None:
        self._service = service
        self._store = service.store
        self._rounds = service.voting_repo
        self._clock = service.clock
        self._events = service.events

    async def _organised(self, ref: str, what: str) -> FederatedRound:
        fed = await self._service.get(ref)
        if fed.participation is Participation.CANCELLED:
            raise PhaseError(f"round {fed.label} was cancelled: it is over")
        if fed.participation is not Participation.ORGANISER:
            raise PermissionDeniedError(f"only the organising community ({fed.organiser_name}) can {what} this round")
        if fed.results_at is not None:
            raise PhaseError(f"round {fed.label} is over")
        return fed

    async def close_phase(self, ref: str, by: Sharer) -> FederatedRound:
        """End the current phase now, for every community (organiser's moderators)."""
        fed = await self._organised(ref, "close a phase of")
        now = self._clock.now()
        if now < fed.submit_until:
            deadlines = (now, fed.vote_until, fed.tally_until)
        elif now < fed.vote_until:
            deadlines = (fed.submit_until, now, now + (fed.tally_until - fed.vote_until))
        else:
            raise PhaseError(f"voting in round {fed.label} is already closed")
        async with self._events.transaction():
            await self._apply(fed, *deadlines)
            await self._store.outbox_add(fed.room, "schedule", {"round": fed.id})
        log.info("%s closed a phase of %s early", by.display_name, fed.id)
        return await self._service.get(fed.id)

    async def cancel(self, ref: str, by: Sharer) -> FederatedRound:
        """Cancel the round before voting opens (organiser's moderators); it ends everywhere without results."""
        fed = await self._organised(ref, "cancel")
        now = self._clock.now()
        if now >= fed.submit_until:
            raise PhaseError(
                f"round {fed.label} is voting since {when_text_utc(fed.submit_until)}: it can no longer be cancelled"
            )
        async with self._events.transaction():
            await self._end(fed, now)
            await self._store.outbox_add(fed.room, "cancel", {"round": fed.id})
        log.info("%s cancelled %s", by.display_name, fed.id)
        return await self._service.get(fed.id)

    async def take_schedule(
        self, round_id: str, signer: str, submit_until: datetime, vote_until: datetime, tally_until: datetime
    ) -> bool:
        """The organiser's signed deadlines: applied when they only bring deadlines forward."""
        fed = await self._store.get_round(round_id)
        if fed is None or signer != fed.organiser or fed.results_at is not None:
            return False
        new = (submit_until, vote_until, tally_until)
        old = (fed.submit_until, fed.vote_until, fed.tally_until)
        if new == old or any(n > o for n, o in zip(new, old, strict=True)):
            return False  # our own update read back, or one that would reopen a phase
        if not submit_until <= vote_until <= tally_until:
            return False
        async with self._events.transaction():
            await self._apply(fed, *new)
        return True

    async def take_cancel(self, round_id: str, signer: str, sent_at: datetime) -> bool:
        """The organiser's signed cancel, sent before voting opened: the local round ends with a notice."""
        fed = await self._store.get_round(round_id)
        if fed is None or signer != fed.organiser or fed.results_at is not None or sent_at >= fed.submit_until:
            return False
        async with self._events.transaction():
            await self._end(fed, self._clock.now())
        return True

    async def _apply(self, fed: FederatedRound, submit_until: datetime, vote_until: datetime, tally: datetime) -> None:
        await self._store.set_deadlines(fed.id, submit_until, vote_until, tally)
        if not fed.takes_part or fed.local_round is None:
            return
        await self._rounds.set_deadlines(fed.local_round, submit_until, vote_until)  # the scheduler moves the phase
        await self._events.record(
            DomainEvent(EventKind.FEDERATED_ROUND_RESCHEDULED, round_id=fed.local_round, federated_round=fed.id),
            self._clock.now(),
        )

    async def _end(self, fed: FederatedRound, now: datetime) -> None:
        taking_part = fed.takes_part
        if taking_part and fed.local_round is not None:
            await self._rounds.set_phase(fed.local_round, Phase.CLOSED, Phase.SUBMISSION)
        await self._store.set_participation(fed.id, Participation.CANCELLED, fed.local_round)
        await self._store.set_results_at(fed.id, now)
        if taking_part:
            await self._events.record(
                DomainEvent(EventKind.FEDERATED_ROUND_CANCELLED, round_id=fed.local_round, federated_round=fed.id), now
            )
