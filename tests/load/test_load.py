"""Load, bounded: 1,000 members voting in one round within a minute on Discord (fake) and on Matrix
(real Synapse), 100 shares within a minute, 10 peers publishing at once. Nothing may be lost or
counted twice and every member gets an answer; the answer times are recorded by bench/load.py
in docs/RELIABILITY.md (never asserted here)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_discord_wire import bot
from tests.integration.test_matrix_bot import PARTS, Room, _ready
from tests.load.scenarios import discord_votes, matrix_members, matrix_votes, peers_publishing, shares
from tests.support.discord_harness import serving_fake
from tests.support.homeserver import Homeserver
from tests.support.instances import running

# The suite runs a tenth of the load (the same paths and the same checks, in about a minute), so
# that CI stays within its time; WAVEPOOL_LOAD=standard (or full) runs the figures: 1,000
# voters on Discord and on Matrix, 100 shares. The Matrix members are application-service accounts
# on a tmpfs-backed Synapse (tests/support/homeserver.py says why). The answer times of those runs
# are recorded by bench/load.py.
LEVEL = os.environ.get("WAVEPOOL_LOAD", "small")
SCALE = 0.1 if LEVEL == "small" else 1.0
MEMBERS = int(1000 * SCALE)
MATRIX_MEMBERS = 20 if LEVEL == "small" else 1000  # the small run: 20, to keep CI within its time
SHARES = int(100 * SCALE)


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Homeserver]:
    server = Homeserver.start(
        tmp_path_factory.mktemp("synapse-load"), max_upload="5M", database_in_memory=True, simulated_members=True
    )
    yield server
    server.stop()


async def test_a_thousand_discord_members_vote_within_a_minute(tmp_path: Path) -> None:
    async with serving_fake() as fake, bot(fake, tmp_path) as run:
        result = await discord_votes(fake, run, MEMBERS, over_s=60 * SCALE)
    print(result.summary())
    assert (result.sent, result.answered, result.counted, result.lost, result.twice) == (
        MEMBERS,
        MEMBERS,
        MEMBERS,
        0,
        0,
    )


async def test_a_thousand_matrix_members_vote_within_a_minute(synapse: Homeserver, tmp_path: Path) -> None:
    room = Room(synapse, tmp_path)
    members = matrix_members(synapse, room.room, MATRIX_MEMBERS)
    async with running(room.config, PARTS) as run:
        await _ready(room, run)
        began = time.monotonic()
        result = await matrix_votes(synapse, run, room.room, room.bot, room.mod_token, members, over_s=60 * SCALE)
    print(result.summary(), f"{time.monotonic() - began:.0f} s")
    assert (result.sent, result.answered, result.counted, result.lost, result.twice) == (
        MATRIX_MEMBERS,
        MATRIX_MEMBERS,
        MATRIX_MEMBERS,
        0,
        0,
    )


async def test_a_hundred_shares_within_a_minute(tmp_path: Path) -> None:
    result = await shares(tmp_path, SHARES, over_s=60 * SCALE)
    print(result.summary())
    assert (result.answered, result.counted, result.lost, result.twice) == (SHARES, SHARES, 0, 0), result.extra


async def test_ten_peers_publishing_at_once(synapse: Homeserver, tmp_path: Path) -> None:
    result = await peers_publishing(synapse, tmp_path, peers=10, each=max(1, int(5 * SCALE)))
    print(result.summary())
    assert result.lost == 0 and result.twice == 0
