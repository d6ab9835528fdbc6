"""Starting the Matrix bot when its account is configured."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from bots.backoff import Backoff
from bots.matrix.bot import MatrixBot, connect
from core.errors import UsageError

if TYPE_CHECKING:
    from bots.runtime import Instance

log = logging.getLogger(__name__)


async def start(instance: Instance) -> asyncio.Task[None] | None:
    """The bot's task, or None when ``[matrix]`` has no homeserver.

    A homeserver that is down at start-up is retried with backoff; credentials it refuses
    stop the bot with a clear log line (the rest of the instance keeps running).
    """
    if not instance.settings.matrix.homeserver:
        return None

    async def run() -> None:
        backoff = Backoff(2.0, 300.0)
        while True:
            try:
                client, media = await connect(instance)
                break
            except UsageError as error:
                log.error("Matrix bot not started: %s", error)
                return
            except Exception as error:
                await backoff.wait(log, "Matrix login", error)
        bot = MatrixBot(instance, client, media)
        instance.extras["matrix"] = bot
        log.info("Matrix bot on as %s at %s", client.user_id, instance.settings.matrix.homeserver)
        try:
            await bot.run()
        finally:
            await client.close()
            await media.close()

    return asyncio.create_task(run(), name="matrix-bot")
