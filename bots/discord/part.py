"""The Discord bot as a part of the running instance, and its event subscriber."""

from __future__ import annotations

import logging
from datetime import timedelta

import discord
import yarl

from bots.discord.client import WavepoolClient
from bots.instance import Instance
from core.events.model import EventKind, RecordedEvent

log = logging.getLogger(__name__)


def point_at(api_base: str) -> None:
    """Send discord.py's REST and gateway traffic to ``api_base`` (a local fake, in tests)."""
    base = api_base.rstrip("/")
    discord.http.Route.BASE = f"{base}/api/v10"
    ws = base.replace("http://", "ws://").replace("https://", "wss://")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"{ws}/gateway")


class DiscordPart:
    """Runs the Discord client and posts every event's announcements to this community's channels."""

    name = "discord"
    backlog: timedelta | None = timedelta(days=1)
    transactional = False

    def __init__(self, instance: Instance, client: WavepoolClient | None = None) -> None:
        settings = instance.settings.discord
        if settings.api_base:
            point_at(settings.api_base)
        self._instance = instance
        self.client = client or WavepoolClient(
            instance, application_id=int(settings.application_id) if settings.application_id else None
        )

    def ready(self) -> bool:
        """Ready while the gateway session is up."""
        return self.client.is_ready() and not self.client.is_closed()

    def health(self) -> str:
        """``ok``, or what is wrong (for /healthz)."""
        return "ok" if self.ready() else "connecting to the Discord gateway"

    async def deliver(self, event: RecordedEvent) -> None:
        """Post the event's announcements; the delivery key is the message nonce."""
        if event.kind is EventKind.TRACK_VERIFIED and event.event.track_id is not None:  # issue 12: edit the cards
            await self.client.update_cards(event.event.track_id)
        for index, post in enumerate(await self._instance.announcements.posts_for(event)):
            await self.client.announce(post, key=event.delivery_key(self.name, index))

    async def run(self) -> None:
        """Connect and serve until cancelled."""
        log.info("Discord bot starting")
        try:
            await self.client.start(self._instance.settings.discord.token or "")
        finally:
            if not self.client.is_closed():
                await self.client.close()
