"""Editing posted track cards in Matrix when a track's verdict changes (``m.replace``).

A card is posted with a headline ("New synthwave track shared by Alice") and the track's
verdict; when the generator confirms the track later, every room message that shows its
card is replaced by the same card rendered with the new verdict. The edit's transaction
id derives from the event's delivery key, so a repeated delivery edits once.
"""

from __future__ import annotations

import logging
from typing import Any

import nio

from bots.matrix.render import plan, transaction_id
from core.model import Track
from core.views.tracks import card_reply
from storage.sqlite.posted_cards import PostedCard

log = logging.getLogger(__name__)

EDIT_INDEX_BASE = 500  # transaction ids of edits stay apart from the delivery's own posts


def replacement(card: PostedCard, track: Track, prefix: str = "!wp") -> dict[str, Any]:
    """The ``m.replace`` content that shows ``track`` as it is now in place of ``card``."""
    new = dict(plan(card_reply(track, text=card.headline), prefix=prefix).messages[0].content)
    new.pop("m.relates_to", None)
    content: dict[str, Any] = {
        "msgtype": new.get("msgtype", "m.text"),
        "body": f"* {new.get('body', '')}",
        "m.new_content": new,
        "m.relates_to": {"rel_type": "m.replace", "event_id": card.message_id},
    }
    if "formatted_body" in new:
        content["format"] = new.get("format", "org.matrix.custom.html")
        content["formatted_body"] = f"* {new['formatted_body']}"
    return content


async def edit_cards(
    client: nio.AsyncClient, cards: list[PostedCard], track: Track, key: str | None, prefix: str = "!wp"
) -> int:
    """Replace every posted card of ``track``; how many edits the homeserver took."""
    done = 0
    for index, card in enumerate(cards):
        tx_id = transaction_id(key, EDIT_INDEX_BASE + index) if key is not None else None
        response = await client.room_send(card.place, "m.room.message", replacement(card, track, prefix), tx_id=tx_id)
        if isinstance(response, nio.RoomSendError):
            log.warning("could not edit the card %s in %s: %s", card.message_id, card.place, response.message)
            continue
        done += 1
    return done
