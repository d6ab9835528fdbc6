"""What a reaction on an event votes for: the bot's record of its card, or the card itself.

The bot records each votable card's vote values once the homeserver has accepted the card.
A bot that stops between the two (a restart, a crash, a cancelled delivery) has posted a
card it has no record of, and every reaction on that card used to be ignored for good:
members' votes lost. So a card also carries its vote values in its content
(``render.VOTES_FIELD``), and a reaction on an event the bot has no record of reads that
event once from the homeserver: the bot's own message with vote values is a card (recorded
now); anything else is recorded as no card, so it is not read again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import nio

from bots.matrix.render import VOTES_FIELD
from core.replies import VoteChoice
from storage.sqlite.bot_state import BotState

log = logging.getLogger(__name__)

NS = "matrix_card"  # event id -> JSON list of vote values ([] for an event that is no card)


class CardVotes:
    """The vote values of the bot's cards, by event id."""

    def __init__(self, client: nio.AsyncClient, state: BotState) -> None:
        self._client = client
        self._state = state

    async def remember(self, event_id: str, votes: Sequence[str]) -> None:
        """Record a card the homeserver accepted."""
        await self._state.put(NS, event_id, json.dumps(list(votes)))

    async def of(self, room_id: str, event_id: str) -> list[VoteChoice]:
        """What a reaction on ``event_id`` votes for; empty when it is no card (or cannot be read now)."""
        raw = await self._state.get(NS, event_id)
        if raw is not None:
            values = json.loads(raw)
        else:
            read = await self._read(room_id, event_id)
            if read is None:
                return []  # not recorded: a later reaction reads it again
            values = read
            await self._state.put(NS, event_id, json.dumps(values))
            if values:
                log.info("card %s in %s was not recorded: read its votes from the event", event_id, room_id)
        choices = []
        for value in values:
            try:
                choices.append(VoteChoice.decode(str(value)))
            except ValueError:
                log.warning("card %s carries a value that is no vote: %r", event_id, value)
        return choices

    async def _read(self, room_id: str, event_id: str) -> list[str] | None:
        """The vote values of the bot's own message ``event_id``; [] for any other event; None
        when the homeserver could not say."""
        response = await self._client.room_get_event(room_id, event_id)
        if isinstance(response, nio.RoomGetEventError):
            if response.status_code == "M_NOT_FOUND":
                return []
            log.warning("could not read %s in %s to count a reaction: %s", event_id, room_id, response.message)
            return None
        source = response.event.source
        if source.get("sender") != self._client.user_id:
            return []  # only the bot's own messages say what a reaction votes for: members cannot forge a card
        votes = (source.get("content") or {}).get(VOTES_FIELD)
        if not isinstance(votes, list) or not all(isinstance(v, str) for v in votes):
            return []
        return [str(v) for v in votes]
