"""The real discord.py client against the local Discord fake: the fake's lifetime and a bot on it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import discord

from tests.support.discord_fake import DiscordFake
from tests.support.instances import Running, eventually, running


class ErrorLog(logging.Handler):
    """Keeps the ERROR records a logger emits."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.asynccontextmanager
async def serving_fake() -> AsyncIterator[DiscordFake]:
    """A started fake; discord.py's endpoints are put back afterwards (the bot points them at the fake)."""
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    server = DiscordFake()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


@contextlib.asynccontextmanager
async def discord_bot(config: Path) -> AsyncIterator[Running]:
    """An instance running its Discord part, once the client is ready; no discord.py error logged."""
    errors = ErrorLog()
    logging.getLogger("discord").addHandler(errors)
    try:
        async with running(config, ("discord",)) as run:
            assert run.parts.discord is not None
            client = run.parts.discord.client
            client._connection.guild_ready_timeout = 0.05

            async def ready() -> bool:
                assert not run.tasks[0].done() or run.tasks[0].exception() is None, run.tasks[0]
                return bool(client.is_ready())

            await eventually(ready, 30, "the client to be ready")
            yield run
    finally:
        logging.getLogger("discord").removeHandler(errors)
    assert not errors.records, [r.getMessage() for r in errors.records]
