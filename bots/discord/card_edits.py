"""Editing posted track cards in Discord when a track's verdict changes (a message edit).

A card is posted with a headline and the track's verdict; when the generator confirms the
track later, every message that shows its card is edited to the same card rendered with the
new verdict (embeds and vote buttons, the headline kept). Editing is idempotent: a repeated
delivery edits to the same content.
"""

from __future__ import annotations

import logging
from typing import Any

import discord

from bots.discord.posting import resolve_channel, with_retry
from bots.discord.render import plan
from core.model import Track
from core.views.tracks import card_reply
from storage.sqlite.posted_cards import PostedCard

log = logging.getLogger(__name__)


def edited_message(card: PostedCard, track: Track) -> dict[str, Any]:
    """The ``edit`` keyword arguments that show ``track`` as it is now in place of ``card``."""
    return plan(card_reply(track, text=card.headline)).headline.kwargs()


async def edit_cards(client: discord.Client, cards: list[PostedCard], track: Track) -> int:
    """Edit every posted card of ``track``; how many edits Discord took."""
    done = 0
    for card in cards:
        try:
            channel = await resolve_channel(client, int(card.place))
            message = channel.get_partial_message(int(card.message_id))
            kwargs = edited_message(card, track)

            async def edit(message: Any = message, kwargs: dict[str, Any] = kwargs) -> Any:
                return await message.edit(**kwargs)

            await with_retry(edit, f"edit {card.message_id}")
            done += 1
        except (discord.NotFound, discord.Forbidden) as error:  # deleted, or the channel closed to the bot
            log.warning("could not edit the card %s in %s: %s", card.message_id, card.place, error)
    return done
