"""Cross-community rounds over the federation rooms: reading and sending their documents.

Intake: every round document must be signed by the key bound to its Matrix sender (the
``org.wavepool.instance`` binding) and name that instance as its origin. Our own documents
come back from the room too and are read like the others, so every instance builds its
view of a round from the same events with the same homeserver timestamps. A tally that
fails the check is kept as FORGED (the results list it as not counted); other unverified
documents are ignored.

Sending: the service queues what to send (``fr_outbox``); ``flush`` signs each document
when it is sent, through a ``send(room, event type, content)`` of the Matrix adapter.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from core.errors import IntegrityError, WavepoolError
from core.federated_round_model import RoundEntry, TallyStatus
from core.federation.event_types import (
    ROUND_CANCEL_EVENT,
    ROUND_ENTRY_EVENT,
    ROUND_EVENT,
    ROUND_MEMBER_EVENT,
    ROUND_SCHEDULE_EVENT,
    ROUND_TALLY_EVENT,
)
from core.federation.manifest import Signer, Verify, check_signature, sign
from core.federation.ports import Peer
from core.federation.round_control_documents import cancel_doc, read_cancel, read_schedule, schedule_doc
from core.federation.round_documents import (
    announcement_doc,
    entry_doc,
    member_doc,
    origin_of,
    read_announcement,
    read_entry,
    read_member,
    read_tally,
    server_time,
    tally_doc,
)
from core.ports import Clock
from core.services.federated_round_control import FederatedRoundControl
from core.services.federated_rounds import FederatedRoundService
from core.voting_model import BallotType

log = logging.getLogger(__name__)

PeerOf = Callable[[str], Awaitable[Peer | None]]
"""The peer whose key a Matrix account published (None when unknown or blocked)."""
Send = Callable[[str, str, Mapping[str, Any]], Awaitable[str]]
"""(room, event type, content) -> event id."""


class RoundExchange:
    """Verifies incoming round documents into the service; signs and sends queued ones."""

    def __init__(
        self,
        service: FederatedRoundService,
        signer: Signer,
        verify: Verify,
        peer_of: PeerOf,
        own_user_id: str,
        clock: Clock,
    ) -> None:
        self._service = service
        self._control = FederatedRoundControl(service)
        self._signer = signer
        self._verify = verify
        self._peer_of = peer_of
        self._own_user = own_user_id
        self._clock = clock
        self.rejected = 0

    async def _signer_of(self, sender: str, doc: Mapping[str, Any]) -> str | None:
        """The instance id that signed ``doc`` if its sender owns that key and it is the origin."""
        instance: str
        if sender == self._own_user:
            instance, key = str(self._signer.instance_id), self._signer.public_key_b64
        else:
            peer = await self._peer_of(sender)
            if peer is None:
                return None
            instance, key = peer.instance_id, peer.public_key
        if not check_signature(doc, key, self._verify):
            return None
        try:
            claimed, _name = origin_of(doc)
        except IntegrityError:
            return None
        return instance if claimed == instance else None

    async def handle(self, room_id: str, event: Mapping[str, Any]) -> str:
        """Take in one round event; says what happened (for logs and tests)."""
        event_type = event.get("type")
        sender = str(event.get("sender", ""))
        event_id = str(event.get("event_id", ""))
        doc = event.get("content")
        if not isinstance(doc, Mapping):
            return "ignored: malformed"
        try:
            sent_at = server_time(event)
            signer = await self._signer_of(sender, doc)
            if event_type == ROUND_TALLY_EVENT:
                status = TallyStatus.COUNTED if signer is not None else TallyStatus.FORGED
                tally = read_tally(doc, sent_at, event_id, status)
                fed = await self._service.store.get_round(tally.round_id)
                if fed is not None and not _plausible(fed.ballot, tally.voters, tally.counts):
                    tally = read_tally(doc, sent_at, event_id, TallyStatus.FORGED)
                if tally.status is TallyStatus.FORGED:
                    self.rejected += 1
                    log.warning("tally %s from %s is not signed by its sender's key: kept as forged", event_id, sender)
                return "tally " + ("kept" if await self._service.take_tally(tally) else "known") + f" ({tally.status})"
            if signer is None:
                self.rejected += 1
                return "ignored: unverified"
            if event_type == ROUND_EVENT:
                taken = await self._service.take_announcement(read_announcement(doc, room_id))
                return "announcement " + ("kept" if taken else "known")
            if event_type == ROUND_MEMBER_EVENT:
                return "member " + ("kept" if await self._service.take_member(read_member(doc, sent_at)) else "ignored")
            if event_type == ROUND_ENTRY_EVENT:
                return "entry " + ("kept" if await self._service.take_entry(read_entry(doc, sent_at)) else "ignored")
            if event_type == ROUND_SCHEDULE_EVENT:  # only the organiser's signature counts (checked there)
                round_id, submit_until, vote_until, tally_until = read_schedule(doc)
                applied = await self._control.take_schedule(round_id, signer, submit_until, vote_until, tally_until)
                return "schedule " + ("applied" if applied else "ignored")
            if event_type == ROUND_CANCEL_EVENT:
                cancelled = await self._control.take_cancel(read_cancel(doc), signer, sent_at)
                return "cancel " + ("applied" if cancelled else "ignored")
        except IntegrityError as error:
            self.rejected += 1
            return f"ignored: {error}"
        return "ignored: not a round event"

    async def flush(self, send: Send) -> int:
        """Sign and send what is queued, in order; stops at the first transport failure."""
        store = self._service.store
        sent = 0
        for item_id, room, kind, payload in await store.outbox_pending(50):
            try:
                built = await self._document(kind, payload)
            except (WavepoolError, KeyError, TypeError, ValueError) as error:
                log.warning("federated round document %s (%s) dropped: %s", item_id, kind, error)
                built = None
            if built is not None:
                event_type, doc = built
                await send(room, event_type, sign(doc, self._signer))
            await store.outbox_done(item_id)
            sent += 1
        return sent

    async def _document(self, kind: str, payload: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
        service = self._service
        now = self._clock.now()
        me, name = service.instance_id, service.instance_name
        fed = await service.store.get_round(str(payload["round"]))
        if fed is None:
            return None
        if kind == "announce":
            return ROUND_EVENT, announcement_doc(fed, now)
        if kind == "member":
            return ROUND_MEMBER_EVENT, member_doc(fed.id, me, name, bool(payload["joined"]), now)
        if kind == "entry":
            entry = next((e for e in await service.store.entries(fed.id) if e.cid == payload["cid"]), None)
            return (ROUND_ENTRY_EVENT, entry_doc(entry, name, now)) if isinstance(entry, RoundEntry) else None
        if kind == "tally":
            return ROUND_TALLY_EVENT, tally_doc(me, name, payload, now)
        if kind == "schedule":
            return ROUND_SCHEDULE_EVENT, schedule_doc(fed, now)
        if kind == "cancel":
            return ROUND_CANCEL_EVENT, cancel_doc(fed, now)
        return None


def _plausible(ballot: BallotType, voters: int, counts: Any) -> bool:
    """Counts a real ballot could give: approvals are 1 each, scores 1 to 5."""
    for count in counts:
        low, high = (count.voters, count.voters) if ballot is BallotType.APPROVAL else (count.voters, 5 * count.voters)
        if not low <= count.total <= high:
            return False
    return True
