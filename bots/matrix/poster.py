"""Posting to Matrix rooms: replies and announcements, each card's ballots remembered for
reactions, a track's audio under its card, and a track's posted cards edited when it changes."""

from __future__ import annotations

import logging
from typing import Any

import nio

from bots.federation.matrix_api import MatrixApi
from bots.instance import Instance
from bots.matrix.card_edits import edit_cards
from bots.matrix.card_votes import CardVotes
from bots.matrix.posting import PostingError, post_plan
from bots.matrix.render import plan, thread_relation
from core.commands.declaration import Post, Reply
from core.events.dispatcher import PermanentDeliveryError
from core.model import TrackId
from storage.sqlite.posted_cards import PostedCard, SqlitePostedCards

log = logging.getLogger(__name__)


class MatrixPoster:
    """Sends the bot's messages to rooms."""

    def __init__(self, instance: Instance, client: nio.AsyncClient, media: MatrixApi, cards: CardVotes) -> None:
        self._instance = instance
        self._client = client
        self._media = media
        self._cards = cards
        self._prefix = instance.settings.matrix.command_prefix
        self._voting = instance.settings.voting
        self._upload_limit: int | None = None

    async def update_cards(self, track_id: TrackId, key: str | None = None) -> int:
        """Edit every card of a track posted here to show it as it is now (issue 12)."""
        track = await self._instance.app.tracks.get(track_id)
        if track is None:
            return 0
        cards = list(await SqlitePostedCards(self._instance.db).of_track(track_id, "matrix"))
        return await edit_cards(self._client, cards, track, key, self._prefix)

    async def send(self, room_id: str, reply: Reply, reply_to: str | None = None, key: str | None = None) -> str | None:
        """Post a reply (a headline and, when long, its thread); remember each card's vote
        buttons for reactions. Returns the headline's event id.

        With a delivery ``key`` (announcements) the key derives the Matrix transaction ids,
        so a repeated delivery after a crash is the same events to the homeserver, and a
        failure raises (the dispatcher retries; a refusal is permanent). Without one, a
        failure is logged (a command's answer)."""
        laid_out = plan(
            reply,
            self._voting.approval_key,
            self._voting.score_keys,
            reply_to=reply_to,
            prefix=self._prefix,
        )
        try:
            ids = await post_plan(self._client, room_id, laid_out, key=key)
        except PostingError as error:
            await self._remember_cards(error.sent, laid_out.messages)
            if key is not None:
                if error.code in ("M_FORBIDDEN", "M_TOO_LARGE", "M_NOT_FOUND", "M_BAD_JSON"):
                    raise PermanentDeliveryError(f"{room_id} refused the post: {error}") from error
                raise
            log.warning("%s", error)
            return error.sent[0] if error.sent else None
        await self._remember_cards(ids, laid_out.messages)
        return ids[0] if ids else None

    async def _remember_cards(self, ids: list[str], messages: Any) -> None:
        for event_id, sent in zip(ids, messages, strict=False):
            if sent.votes:
                await self._cards.remember(event_id, sent.votes)

    async def _audio(
        self, room_id: str, reply: Reply, audio_mxc: str | None, key: str | None = None, thread: str | None = None
    ) -> None:
        """The track itself under its card (in the card's ``thread`` when given): the original
        upload, or the pool file re-uploaded."""
        for track in reply.cards[:1]:
            mxc = audio_mxc or await self._instance.state.get("matrix_media", track.cid)
            if mxc is None:
                path = await self._instance.app.pool.local_path(track.cid)
                if path is None or track.size > await self._max_upload():
                    continue
                try:
                    mxc = await self._media.upload(path, track.media_type, track.size)
                except Exception as error:
                    log.warning("could not upload %s: %s", track.cid, error)
                    continue
                await self._instance.state.put("matrix_media", track.cid, mxc)
            await self._client.room_send(
                room_id,
                "m.room.message",
                tx_id=f"{key}a" if key else None,
                content={
                    "msgtype": "m.audio",
                    "body": f"{track.title[:200]}",
                    "url": mxc,
                    "m.mentions": {},
                    "info": {
                        "mimetype": track.media_type,
                        "size": track.size,
                        "duration": int(track.duration_s * 1000),
                    },
                    **({"m.relates_to": thread_relation(thread, thread)} if thread else {}),
                },
            )

    async def _max_upload(self) -> int:
        if self._upload_limit is None:
            try:
                data = await self._media.request("GET", "/_matrix/client/v1/media/config")
                self._upload_limit = int(data.get("m.upload.size") or 50 * 1024 * 1024)
            except Exception:
                self._upload_limit = 10 * 1024 * 1024
        return self._upload_limit

    async def deliver(
        self, room_id: str, reply: Reply, reply_to: str | None = None, audio_mxc: str | None = None
    ) -> None:
        """Answer in the room (with the track's audio under its card)."""
        await self.send(room_id, reply, reply_to)
        if reply.cards and "track" in reply.data and not reply.failed:
            await self._audio(room_id, reply, audio_mxc)

    async def announce(self, post: Post, key: str | None = None) -> None:
        """Post to the room a target maps to; ``key`` makes a repeated delivery a no-op."""
        room_id = await self._instance.app.place_of(post, "matrix")
        if room_id is None:
            return
        head = await self.send(room_id, post.reply, key=key)
        if head is not None and post.reply.cards and "track" in post.reply.data:  # issue 12: edited on upgrade
            card = PostedCard("matrix", room_id, head, TrackId(str(post.reply.data["track"])), post.reply.text)
            await SqlitePostedCards(self._instance.db).record(card)
        if post.reply.cards and "track" in post.reply.data:
            # a round entry's audio goes in the entry card's thread: voters listen where they vote
            thread = head if "entry" in post.reply.data else None
            await self._audio(room_id, post.reply, None, key, thread=thread)
