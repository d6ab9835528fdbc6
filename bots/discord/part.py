"""Starting the Discord bot when a token is configured."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord
import yarl

from bots.discord.client import WavepoolClient

if TYPE_CHECKING:
    from bots.runtime import Instance

log = logging.getLogger(__name__)


def point_at(api_base: str) -> None:
    """Send discord.py's REST and gateway traffic to ``api_base`` (a local fake, in tests)."""
    base = api_base.rstrip("/")
    discord.http.Route.BASE = f"{base}/api/v10"
    ws = base.replace("http://", "ws://").replace("https://", "wss://")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"{ws}/gateway")


async def start(instance: Instance) -> asyncio.Task[None] | None:
    """The bot's task, or None without a token."""
    settings = instance.settings.discord
    if not settings.token:
        return None
    if settings.api_base:
        point_at(settings.api_base)
    client = WavepoolClient(instance, application_id=int(settings.application_id) if settings.application_id
                            else None)
    instance.extras["discord"] = client
    log.info("Discord bot starting")

    async def run() -> None:
        try:
            await client.start(settings.token or "")
        finally:
            if not client.is_closed():
                await client.close()

    return asyncio.create_task(run(), name="discord-bot")
