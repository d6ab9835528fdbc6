"""Short private answers due in one room at the same moment go out as one notice.

A vote is answered with a line ("Vote counted.") that Discord shows to the voter only;
Matrix has no such message, so the answer is a notice in the room. When a round's voting
peaks, hundreds of members vote within seconds, and one notice each is one event each
that the bot's homeserver stores and sends to every member's homeserver and client
(1,000 notices to scroll past in a 1,000-member room). Here, while an answer to a room is
on its way to the homeserver, the answers that become due meanwhile wait and then go
together once there are a few (``BATCH_FROM``): one notice with a line per member (a
pill for them and a link to their command), the answered event ids in
``org.wavepool.answers``. A quiet room gets each answer alone, as a plain reply, with no
added delay: batching happens only when answers queue up behind the homeserver.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import nio

from bots.matrix.render import CONTENT_BYTES, json_bytes
from core.replies import Reply

log = logging.getLogger(__name__)

ANSWERS_FIELD = "org.wavepool.answers"  # event ids a batched notice answers, for clients and tests
BATCH_FROM = 5  # answers waiting before they share a notice: a few members at once still get plain replies
MOST_PER_NOTICE = 40  # a notice stays readable; long lines split it further (CONTENT_BYTES)
LONGEST_LINE = 300


def batchable(reply: Reply) -> bool:
    """A one-line private answer with nothing else (a vote's outcome, a refusal)."""
    return (
        reply.private
        and not (reply.title or reply.cards or reply.buttons or reply.files or reply.fields)
        and len(reply.text) <= LONGEST_LINE
        and "\n" not in reply.text
    )


@dataclass
class _Due:
    event_id: str
    user_id: str
    name: str
    reply: Reply
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class AnswerBatcher:
    """Answers per room, sent one notice at a time; what waits meanwhile goes in the next one."""

    def __init__(
        self,
        client: nio.AsyncClient,
        send_one: Callable[[str, Reply, str], Awaitable[object]],
        render_line: Callable[[Reply], tuple[str, str]],
    ) -> None:
        self._client = client
        self._send_one = send_one  # (room, reply, event replied to): the ordinary reply
        self._render_line = render_line  # a reply -> (plain text, HTML) in the bot's dialect
        self._due: dict[str, list[_Due]] = {}
        self._senders: dict[str, asyncio.Task[None]] = {}

    async def answer(self, room_id: str, event_id: str, user_id: str, name: str, reply: Reply) -> None:
        """Answer ``event_id``; returns once the answer was handed to the homeserver (or failed, logged)."""
        due = _Due(event_id, user_id, name, reply)
        self._due.setdefault(room_id, []).append(due)
        if room_id not in self._senders:
            self._senders[room_id] = asyncio.create_task(self._send_due(room_id))
        await due.done

    async def close(self) -> None:
        """Stop sending (the bot stops); answers not yet sent are dropped, as an unsent reply would be."""
        tasks = list(self._senders.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _send_due(self, room_id: str) -> None:
        due = self._due[room_id]
        try:
            while due:
                take = MOST_PER_NOTICE if len(due) >= BATCH_FROM else 1
                batch = due[:take]
                del due[:take]
                try:
                    if len(batch) == 1:
                        await self._send_one(room_id, batch[0].reply, batch[0].event_id)
                    else:
                        await self._send_batch(room_id, batch)
                except Exception:
                    log.exception("answering %d commands in %s failed", len(batch), room_id)
                finally:
                    for item in batch:
                        if not item.done.done():
                            item.done.set_result(None)
        finally:
            # no await since ``due`` was seen empty: an answer added now starts a new sender
            del self._senders[room_id]
            del self._due[room_id]
            if due:
                log.warning("%d answers in %s not sent: the bot stopped", len(due), room_id)
            for item in due:
                if not item.done.done():
                    item.done.set_result(None)

    async def _send_batch(self, room_id: str, batch: list[_Due]) -> None:
        content = self._content(room_id, batch)
        size = json_bytes(content["body"]) + json_bytes(content["formatted_body"])
        if size > CONTENT_BYTES and len(batch) > 1:  # long lines: two notices, each under Synapse's limit
            half = len(batch) // 2
            await self._send_batch(room_id, batch[:half])
            await self._send_batch(room_id, batch[half:])
            return
        response = await self._client.room_send(room_id, "m.room.message", content)
        if isinstance(response, nio.RoomSendError):
            log.warning("could not answer %d commands in %s: %s", len(batch), room_id, response.message)

    def _content(self, room_id: str, batch: list[_Due]) -> dict[str, Any]:
        plain: list[str] = []
        items: list[str] = []
        for item in batch:
            text, markup = self._render_line(item.reply)
            plain.append(f"{item.name}: {text}")
            user = f"https://matrix.to/#/{quote(item.user_id, safe='@:')}"
            command = f"https://matrix.to/#/{quote(room_id, safe='!:')}/{quote(item.event_id, safe='$:')}"
            items.append(
                f'<li><a href="{html.escape(user)}">{html.escape(item.name)}</a>'
                f' (<a href="{html.escape(command)}">command</a>): {markup}</li>'
            )
        return {
            "msgtype": "m.notice",
            "body": "\n".join(plain),
            "format": "org.matrix.custom.html",
            "formatted_body": f"<ul>{''.join(items)}</ul>",
            "m.mentions": {},  # as a single answer: nobody is notified
            ANSWERS_FIELD: [item.event_id for item in batch],
        }
