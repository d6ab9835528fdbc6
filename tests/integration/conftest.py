"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.discord_fake import DiscordFake
from tests.support.discord_harness import serving_fake


@pytest.fixture
async def fake() -> AsyncIterator[DiscordFake]:
    """The local Discord fake (API and gateway) for one test."""
    async with serving_fake() as server:
        yield server
