"""Starting the Matrix bot when its account is configured."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from bots.matrix.bot import MatrixBot, connect

if TYPE_CHECKING:
    from bots.runtime import Instance

log = logging.getLogger(__name__)


async def start(instance: Instance) -> asyncio.Task[None] | None:
    """The bot's task, or None when ``[matrix]`` has no homeserver."""
    if not instance.settings.matrix.homeserver:
        return None
    client, media = await connect(instance)
    bot = MatrixBot(instance, client, media)
    instance.extras["matrix"] = bot
    log.info("Matrix bot on as %s at %s", client.user_id, instance.settings.matrix.homeserver)

    async def run() -> None:
        try:
            await bot.run()
        finally:
            await client.close()
            await media.close()

    return asyncio.create_task(run(), name="matrix-bot")
