"""The Matrix bot as a part of the running instance, and its event subscriber."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

import nio

from bots.backoff import Backoff
from bots.federation.matrix_session import SessionKeeper
from bots.federation.room_reader import RoomBatch
from bots.federation.takedown import withdraw_from_matrix
from bots.instance import Instance
from bots.matrix.bot import MatrixBot, connect
from core.errors import UsageError
from core.events.model import EventKind, RecordedEvent

log = logging.getLogger(__name__)


class MatrixPart:
    """Logs in (retrying with backoff while the homeserver is down), serves commands, and
    posts every event's announcements to this community's Matrix rooms."""

    name = "matrix"
    backlog: timedelta | None = timedelta(days=1)  # a bot added later does not replay old posts
    transactional = False

    def __init__(
        self,
        instance: Instance,
        keeper: SessionKeeper | None = None,
        federation: Callable[[Mapping[str, RoomBatch]], Awaitable[None]] | None = None,
    ) -> None:
        self._instance = instance
        self._keeper = keeper or SessionKeeper(instance.settings.matrix, instance.data_dir)
        self._federation = federation  # fed the federation rooms of each sync (one sync per account)
        self._bot: MatrixBot | None = None
        self._login = Backoff(2.0, 300.0)
        self._refused: str | None = None

    def health(self) -> str:
        """``ok``, or what is wrong (for /healthz)."""
        if self.ready():
            return "ok"
        return self._refused or self._login.problem or "connecting"

    @property
    def bot(self) -> MatrixBot | None:
        """The bot while it is logged in."""
        return self._bot

    def ready(self) -> bool:
        """Ready once logged in and synced (rooms known)."""
        return self._bot is not None and self._bot.synced

    def caught_up(self) -> bool:
        """Synced once since start (what members did while it was down is read), or given up."""
        return self.ready() or self._refused is not None

    async def deliver(self, event: RecordedEvent) -> None:
        """Post the event's announcements; the delivery key is the Matrix transaction id."""
        assert self._bot is not None
        if event.kind is EventKind.TRACK_VERIFIED and event.event.track_id is not None:  # issue 12: edit the cards
            await self._bot.update_cards(event.event.track_id, key=event.delivery_key(self.name, 0))
        for index, post in enumerate(await self._instance.announcements.posts_for(event)):
            await self._bot.announce(post, key=event.delivery_key(self.name, index))
        if event.kind is EventKind.TRACK_TAKEN_DOWN and event.event.track_id:  # redact our posts, drop uploads
            rooms = list(self._bot.client.rooms)
            await withdraw_from_matrix(self._instance, self._bot.media, rooms, event.event.track_id, event.event.reason)

    async def run(self) -> None:
        """Log in, then sync until cancelled; credentials refused stop the bot with a clear log line."""
        while True:
            try:
                client, media = await connect(self._instance, self._keeper)
                self._login.reset()
                break
            except UsageError as error:
                self._refused = f"not started: {error}"
                log.error("Matrix bot not started: %s", error)
                return
            except Exception as error:
                await self._login.wait(log, "Matrix login", error)
        bot = MatrixBot(self._instance, client, media, self._feed if self._federation else None, self._keeper.renew)
        self._bot = bot
        log.info("Matrix bot on as %s at %s", client.user_id, self._instance.settings.matrix.homeserver)
        try:
            await bot.run()
        finally:
            self._bot = None
            await client.close()
            await media.close()

    async def _feed(self, response: nio.SyncResponse) -> None:
        assert self._federation is not None
        await self._federation(batches_from_nio(response))


def batches_from_nio(response: nio.SyncResponse) -> dict[str, RoomBatch]:
    """The joined rooms of a nio sync as the federation reader's raw batches (``event.source``
    is the event as the homeserver sent it, custom ``org.wavepool.*`` types included)."""
    out: dict[str, RoomBatch] = {}
    for room_id, room in response.rooms.join.items():
        out[room_id] = RoomBatch(
            [e.source for e in room.state if isinstance(getattr(e, "source", None), dict)],
            [e.source for e in room.timeline.events if isinstance(getattr(e, "source", None), dict)],
            bool(room.timeline.limited),
            room.timeline.prev_batch,
        )
    return out
