"""The Matrix bot on matrix-nio.

Sync loop: the sync token is stored after every batch, and each handled event id is
recorded before its command runs, so after a restart the bot handles what it missed once
and never runs a command twice. A reaction (or its redaction) is recorded after it is
counted instead: casting the same ballot twice is one ballot, so one the bot was counting
when it stopped is counted after the restart rather than lost. The first sync after start
asks for full state (power levels for permissions); on the very first start the bot skips
old history, and in a room it joins later, what was said before it came
(``bots/matrix/catch_up.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any

import nio

from bots.backoff import Backoff
from bots.federation.matrix_api import MatrixApi
from bots.federation.matrix_session import SessionKeeper
from bots.instance import Instance
from bots.matrix.answers import AnswerBatcher, batchable
from bots.matrix.card_votes import CardVotes
from bots.matrix.catch_up import unread
from bots.matrix.lanes import run_in_lanes
from bots.matrix.member_messages import AUDIO_SUFFIXES, AUDIO_TYPES, caption_of, own_text, replied_to
from bots.matrix.membership import age_days, member_since_ms, roles_for
from bots.matrix.places import MatrixPlaces
from bots.matrix.poster import MatrixPoster
from bots.matrix.render import plan
from core.commands.captions import caption_fields, first_link
from core.commands.declaration import (
    Attachment,
    Button,
    Invocation,
    Permission,
    Post,
    Reply,
)
from core.commands.dispatch import error_reply, execute, press
from core.commands.parsing import parse_chat
from core.errors import TooLargeError, UsageError, WavepoolError
from core.model import TrackId
from core.replies import VoteChoice

log = logging.getLogger(__name__)

NS = "matrix"
_OPTIONS = re.compile(r"(?:^|\s)--")  # where a command's --options start after its free words


class MatrixBot:
    """One Matrix account serving the instance's commands."""

    def __init__(
        self,
        instance: Instance,
        client: nio.AsyncClient,
        media: MatrixApi,
        on_sync: Callable[[nio.SyncResponse], Awaitable[None]] | None = None,
        renew: Callable[[str], Awaitable[str]] | None = None,
    ) -> None:
        self.instance = instance
        self._renew = renew  # a refused token -> the instance's new one (bots/federation/matrix_session.py)
        self._on_sync = on_sync  # the federation reads its rooms from this sync (one per account)
        self.client = client
        self.media = media
        self.settings = instance.settings.matrix
        self.voting = instance.settings.voting
        self._refusing: set[str] = set()  # refusals of reactions being answered now (card and reason)
        self._creators: dict[str, set[str]] = {}  # room -> creators (room v12: above every power level)
        self.places = MatrixPlaces(client)
        self.synced = False  # after the first sync: rooms and power levels known, posts can go out
        self.cards = CardVotes(client, instance.state)  # what a reaction on a card votes for
        self.poster = MatrixPoster(instance, client, media, self.cards)
        self.answers = AnswerBatcher(client, self.poster.send, self._answer_line)

    # -- state -------------------------------------------------------------------------

    async def _first_time(self, event_id: str) -> bool:
        """Record the event as handled; False if it already was."""
        if await self._handled(event_id):
            return False
        await self._record_handled(event_id)
        return True

    async def _handled(self, event_id: str) -> bool:
        return await self.instance.state.get("matrix_done", event_id) is not None

    async def _record_handled(self, event_id: str) -> None:
        await self.instance.state.put("matrix_done", event_id, "1")

    # -- loop --------------------------------------------------------------------------

    def _filter(self) -> dict[str, Any]:
        return {
            "room": {"timeline": {"limit": 100}, "ephemeral": {"types": []}},
            "presence": {"types": []},
            "account_data": {"types": []},
        }

    async def run(self) -> None:
        """Sync until cancelled; network errors back off."""
        since = await self.instance.state.get(NS, "since")
        first = True
        backoff = Backoff()
        try:
            while True:
                try:
                    response = await self.client.sync(
                        timeout=0 if first else 1000, since=since, full_state=first or None, sync_filter=self._filter()
                    )
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    await backoff.wait(log, "matrix sync", error)
                    continue
                if isinstance(response, nio.SyncError):
                    if response.status_code == "M_UNKNOWN_TOKEN" and self._renew is not None:
                        # the token was revoked: the instance's one session logs in again (same device)
                        try:
                            self.client.access_token = await self._renew(self.client.access_token)
                            await self.media.use_token(self.client.access_token)
                            continue
                        except Exception as error:  # no password to log in with, or the homeserver is down
                            log.error("matrix: cannot renew the refused access token: %s", error)
                    await backoff.wait(log, "matrix sync", response.message)
                    continue
                backoff.reset()
                await self._handle_sync(response, replay=since is not None)
                if self._on_sync is not None:  # before the token moves on: a crash hands it over again
                    try:
                        await self._on_sync(response)
                    except Exception:
                        log.exception("the federation's part of the sync failed")
                since = response.next_batch
                await self.instance.state.put(NS, "since", since)
                first = False
                self.synced = True
        finally:
            self.synced = False
            await self.answers.close()

    async def _handle_sync(self, response: nio.SyncResponse, replay: bool) -> None:
        for room_id in response.rooms.invite:
            if self.settings.auto_join:
                result = await self.client.join(room_id)
                log.info("joined %s on invite: %s", room_id, type(result).__name__)
        for room_id, room in response.rooms.join.items():
            for event in (*room.state, *room.timeline.events):
                source = getattr(event, "source", {}) or {}
                if source.get("type") == "m.room.create":
                    content = source.get("content") or {}
                    creators = {str(source.get("sender"))} | set(content.get("additional_creators") or ())
                    self._creators[room_id] = creators
        if not replay:
            for room_id, room in response.rooms.join.items():
                await self._remember_last(room_id, room.timeline.events)
            return  # the very first start: do not act on old history
        by_room: dict[str, list[Any]] = {}
        for room_id, room in response.rooms.join.items():
            last = await self.instance.state.get(NS, f"last:{room_id}")
            by_room[room_id] = await unread(self.client, room_id, room.timeline, last)
        # members concurrently, each member's own events in order; a moderator's command waits
        # for what came before it (votes cast before a round closes count) and runs alone
        await run_in_lanes(
            [(room_id, event) for room_id, events in by_room.items() for event in events],
            lane_of=lambda item: (item[0], getattr(item[1], "sender", "")),
            handle=lambda item: self._handle_logged(*item),
            is_barrier=lambda item: self._is_moderator_command(*item),
        )
        for room_id, events in by_room.items():
            await self._remember_last(room_id, events)

    async def _handle_logged(self, room_id: str, event: Any) -> None:
        try:
            await self._handle_event(room_id, event)
        except Exception:
            log.exception("matrix event %s in %s failed", getattr(event, "event_id", "?"), room_id)

    def _is_moderator_command(self, room_id: str, event: Any) -> bool:
        if not isinstance(event, nio.RoomMessageText):
            return False
        body = own_text(event.body).strip()
        prefix = self.settings.command_prefix
        is_command = body == prefix or body.startswith(prefix + " ")
        return is_command and self._permission(room_id, event.sender) is Permission.MODERATOR

    async def _remember_last(self, room_id: str, events: Any) -> None:
        last = next((e.event_id for e in reversed(list(events)) if getattr(e, "event_id", None)), None)
        if last:
            await self.instance.state.put(NS, f"last:{room_id}", str(last))

    async def _handle_event(self, room_id: str, event: Any) -> None:
        sender = getattr(event, "sender", "")
        if sender == self.client.user_id:
            return
        if isinstance(event, nio.RoomMessageText):
            body = own_text(event.body).strip()
            prefix = self.settings.command_prefix
            if body == prefix or body.startswith(prefix + " "):
                if await self._first_time(event.event_id):
                    await self._command(room_id, event, body[len(prefix) :].strip())
        elif isinstance(event, (nio.RoomMessageAudio, nio.RoomMessageFile)):
            mimetype = str((event.source.get("content", {}).get("info") or {}).get("mimetype") or "")
            is_audio = isinstance(event, nio.RoomMessageAudio) or mimetype.startswith(AUDIO_TYPES)
            claims_audio = is_audio or event.body.lower().endswith(AUDIO_SUFFIXES)
            if claims_audio and await self._watched(room_id) and await self._first_time(event.event_id):
                await self._share_upload(room_id, event)
        elif isinstance(event, nio.ReactionEvent):
            if not await self._handled(event.event_id):  # recorded once counted: a stop half-way repeats it
                await self._reaction(room_id, event)
                await self._record_handled(event.event_id)
        elif isinstance(event, nio.RedactionEvent):
            if not await self._handled(event.event_id):
                await self._redaction(room_id, event)
                await self._record_handled(event.event_id)

    async def _watched(self, room_id: str) -> bool:
        """Whether audio posted in the room is shared (the config's rooms and moderators' ``watch add``)."""
        genres = self.instance.app.genres
        if genres is None:
            return room_id in self.settings.watch_rooms
        return room_id in await genres.watched(NS)

    # -- commands ----------------------------------------------------------------------

    def _permission(self, room_id: str, user_id: str) -> Permission:
        if user_id in self._creators.get(room_id, ()):
            return Permission.MODERATOR
        room = self.client.rooms.get(room_id)
        level = room.power_levels.get_user_level(user_id) if room else 0
        return Permission.MODERATOR if level >= self.settings.moderator_power_level else Permission.MEMBER

    def _name(self, room_id: str, user_id: str) -> str:
        room = self.client.rooms.get(room_id)
        return (room.user_name(user_id) if room else None) or user_id

    async def _invocation(
        self,
        room_id: str,
        sender: str,
        event_id: str,
        args: dict[str, Any] | None = None,
        attachments: tuple[Attachment, ...] = (),
        acted_at: datetime | None = None,
    ) -> Invocation:
        room = self.client.rooms.get(room_id)
        level = room.power_levels.get_user_level(sender) if room else 0
        since = await member_since_ms(self.media, self.instance.state, room_id, sender)
        return Invocation(
            platform="matrix",
            user_id=sender,
            display_name=self._name(room_id, sender),
            place=room_id,
            permission=self._permission(room_id, sender),
            args=args or {},
            attachments=attachments,
            message_ref=f"https://matrix.to/#/{room_id}/{event_id}",
            account_age_days=age_days(since),
            roles=roles_for(level, self.settings.moderator_power_level, sender in self._creators.get(room_id, ())),
            acted_at=acted_at,
            places=self.places,
        )

    async def _command(self, room_id: str, event: nio.RoomMessageText, text: str) -> None:
        replied = replied_to(event)
        if replied is not None and text.split(None, 1)[:1] == ["share"]:
            try:
                args: dict[str, Any] = dict(parse_chat(self.instance.registry, text)[1])
            except WavepoolError:  # free caption words after `share`: read as a caption
                args = {}
            if not str(args.get("url") or "").startswith("http"):
                await self._share_replied(room_id, event, replied, text, args)
                return
        try:
            command, args = parse_chat(self.instance.registry, text or "help")
        except WavepoolError as error:
            await self._answer(room_id, event, error_reply(error))
            return
        invocation = await self._invocation(room_id, event.sender, event.event_id, args)
        await self._answer(room_id, event, await execute(command, invocation))

    async def _answer(self, room_id: str, event: nio.RoomMessageText, reply: Reply) -> None:
        """A command's answer: a short private one may share a notice with others due at once."""
        if batchable(reply):
            await self.answers.answer(room_id, event.event_id, event.sender, self._name(room_id, event.sender), reply)
        else:
            await self.poster.deliver(room_id, reply, reply_to=event.event_id)

    def _answer_line(self, reply: Reply) -> tuple[str, str]:
        """A one-line answer as (text, HTML), as it reads alone."""
        laid_out = plan(reply, self.voting.approval_key, self.voting.score_keys, prefix=self.settings.command_prefix)
        content = laid_out.messages[0].content
        markup = str(content.get("formatted_body", ""))
        if markup.startswith("<p>") and markup.endswith("</p>") and markup.count("<p>") == 1:
            markup = markup[3:-4]
        return str(content.get("body", "")), markup

    async def _share_replied(
        self, room_id: str, event: nio.RoomMessageText, replied: str, text: str, args: dict[str, Any]
    ) -> None:
        """``!wp share`` as a reply to an audio or link message, in any room the bot is in: the
        original's caption and the reply's own words give the title, genre and prompt."""
        found = await self.client.room_get_event(room_id, replied)
        original = getattr(found, "event", None)
        if original is None:
            await self.poster.send(
                room_id, error_reply(UsageError("I cannot read the message you replied to")), event.event_id
            )
            return
        words = text.split(None, 1)[1] if len(text.split(None, 1)) > 1 else ""
        fields = {**caption_of(original), **caption_fields(_OPTIONS.split(words, 1)[0])}
        declared = {k: v for k, v in args.items() if v is not None and k not in ("url", "file")}
        merged: dict[str, Any] = {**fields, **declared}
        if isinstance(original, (nio.RoomMessageAudio, nio.RoomMessageFile)):
            await self._share_upload(room_id, original, extra=merged, sharer=event.sender, answer_to=event.event_id)
            return
        link = first_link(getattr(original, "body", "") or "")
        if link is None:
            await self.poster.send(
                room_id,
                error_reply(UsageError("reply to an audio message or a message with a link to share it")),
                reply_to=event.event_id,
            )
            return
        share = self.instance.registry.get("share")
        assert share is not None
        invocation = await self._invocation(room_id, event.sender, event.event_id, {**merged, "url": link})
        await self.poster.deliver(room_id, await execute(share, invocation), reply_to=event.event_id)

    async def _share_upload(
        self,
        room_id: str,
        event: Any,
        extra: dict[str, Any] | None = None,
        sharer: str | None = None,
        answer_to: str | None = None,
    ) -> None:
        """Share an audio event's file; ``sharer`` and ``answer_to`` when a reply asked for it."""
        answer_to = answer_to or event.event_id
        content = event.source.get("content", {})
        info = content.get("info") or {}
        limit = self.instance.app.ingest.limits.max_bytes
        size = int(info.get("size") or 0)
        if size > limit:
            await self.poster.send(
                room_id,
                error_reply(
                    TooLargeError(f"the file is {size / 1e6:.1f} MB; this community accepts up to {limit / 1e6:.0f} MB")
                ),
                reply_to=answer_to,
            )
            return
        name = PurePath(str(content.get("filename") or event.body or "upload")).name[:200] or "upload"
        work = self.instance.data_dir / "downloads"
        work.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=work, suffix=".part", delete=False) as handle:
            path = Path(handle.name)
        try:
            try:
                with path.open("wb") as out:
                    async for chunk in self.media.download(event.url, limit):
                        out.write(chunk)
            except WavepoolError as error:
                await self.poster.send(room_id, error_reply(error), reply_to=answer_to)
                return
            attachment = Attachment(name, path, path.stat().st_size, info.get("mimetype"), event.url)
            share = self.instance.registry.get("share")
            assert share is not None
            args = extra if extra is not None else caption_of(event)
            invocation = await self._invocation(
                room_id, sharer or event.sender, event.event_id, dict(args), (attachment,)
            )
            reply = await execute(share, invocation)
            if "cid" in reply.data and not reply.failed:
                await self.instance.state.put("matrix_media", str(reply.data["cid"]), str(event.url))
            await self.poster.deliver(room_id, reply, reply_to=answer_to, audio_mxc=event.url)
        finally:
            path.unlink(missing_ok=True)

    # -- votes -------------------------------------------------------------------------

    def _ballot_for(self, key: str, scored: bool) -> int | None:
        """The ballot a reaction casts on a card: on a score card only the score keys vote."""
        if scored:
            return next((index + 1 for index, score in enumerate(self.voting.score_keys) if key == score), None)
        if key.rstrip("\ufe0f") == self.voting.approval_key.rstrip("\ufe0f"):
            return 1
        return None

    async def _reaction(self, room_id: str, event: nio.ReactionEvent) -> None:
        if self._ballot_for(event.key, scored=False) is None and self._ballot_for(event.key, scored=True) is None:
            return  # no vote key: no card to look up
        choices = await self.cards.of(room_id, event.reacts_to)
        if not choices:
            return
        ballot = self._ballot_for(event.key, scored=len(choices) > 1)
        if ballot is None:
            return
        choice = choices[0].with_value(ballot)
        # the vote counts when the member reacted (the homeserver's time), also when read after a restart
        cast = datetime.fromtimestamp(event.server_timestamp / 1000, UTC) if event.server_timestamp else None
        invocation = await self._invocation(room_id, event.sender, event.event_id, {"toggle": False}, acted_at=cast)
        reply = await press(self.instance.registry, Button.vote(event.key, choice).custom_id, invocation)
        if reply.failed:
            # one answer per card and reason (a closed round), not one public error per reaction
            said = f"{event.reacts_to}:{reply.text}"
            if said in self._refusing:  # another member's lane is giving this very answer
                return
            self._refusing.add(said)  # claimed before any await: lanes run concurrently
            try:
                if await self.instance.state.get("matrix_refusal", said) is None:
                    await self.instance.state.put("matrix_refusal", said, "1")
                    await self.poster.send(room_id, reply, reply_to=event.reacts_to)
            finally:
                self._refusing.discard(said)
            return
        await self.instance.state.put(
            "matrix_reaction", event.event_id, json.dumps([choice.with_value(0).encode(), event.sender])
        )

    async def _redaction(self, room_id: str, event: nio.RedactionEvent) -> None:
        raw = await self.instance.state.get("matrix_reaction", event.redacts)
        if raw is None:
            return
        withdrawal, voter = json.loads(raw)
        if voter != event.sender:
            return  # a moderator removing someone's reaction is not that member withdrawing a vote
        invocation = await self._invocation(room_id, voter, event.event_id, {"toggle": False})
        try:
            choice = VoteChoice.decode(withdrawal)
        except ValueError:  # stored by an earlier version: the target without a value
            choice = VoteChoice.decode(f"{withdrawal}:0")
        await press(self.instance.registry, Button.vote("withdraw", choice).custom_id, invocation)
        await self.instance.state.delete("matrix_reaction", event.redacts)

    # -- sending (bots/matrix/poster.py) ----------------------------------------------------

    async def announce(self, post: Post, key: str | None = None) -> None:
        """Post to the room a target maps to; ``key`` makes a repeated delivery a no-op."""
        await self.poster.announce(post, key)

    async def update_cards(self, track_id: TrackId, key: str | None = None) -> int:
        """Edit every card of a track posted here to show it as it is now (issue 12)."""
        return await self.poster.update_cards(track_id, key)


async def connect(instance: Instance, keeper: SessionKeeper | None = None) -> tuple[nio.AsyncClient, MatrixApi]:
    """A nio client and a media client on the instance's one kept Matrix session (no new device)."""
    settings = instance.settings.matrix
    assert settings.homeserver and settings.user_id
    keeper = keeper or SessionKeeper(settings, instance.data_dir)
    session = await keeper.session()
    config = nio.AsyncClientConfig(max_timeouts=3, max_limit_exceeded=3, request_timeout=60, store_sync_tokens=False)
    client = nio.AsyncClient(session.homeserver, session.user_id, device_id=session.device_id, config=config)
    client.access_token = session.access_token
    client.user_id = session.user_id
    media = MatrixApi(session.homeserver, session.access_token, session.user_id, renew=keeper.renew)
    return client, media
