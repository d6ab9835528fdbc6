"""Load figures for docs/RELIABILITY.md: answer times under 1,000 voting members, 100 shares a
minute and 10 peers publishing at once (the scenarios of tests/load, at full scale).

    .venv/bin/python bench/load.py [discord] [matrix] [shares] [peers] [--members 1000] [--over 60]

Prints one JSON line per scenario: sent, answered, counted, lost, twice, elapsed, p50/p99/max
answer time, and the machine's load average when it ran (the figures move with it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.test_discord_wire import bot  # noqa: E402
from tests.integration.test_matrix_bot import PARTS, Room, _ready  # noqa: E402
from tests.load.scenarios import (  # noqa: E402
    LoadResult,
    discord_votes,
    matrix_members,
    matrix_votes,
    peers_publishing,
    shares,
)
from tests.support.discord_harness import serving_fake  # noqa: E402
from tests.support.homeserver import Homeserver  # noqa: E402
from tests.support.instances import running  # noqa: E402


async def _discord(work: Path, members: int, over: float) -> LoadResult:
    async with serving_fake() as fake, bot(fake, work) as run:
        return await discord_votes(fake, run, members, over)


async def _matrix(work: Path, members: int, over: float) -> LoadResult:
    hs = Homeserver.start(work / "synapse", max_upload="5M", database_in_memory=True, simulated_members=True)
    try:
        room = Room(hs, work)
        began = time.monotonic()
        accounts = await asyncio.to_thread(matrix_members, hs, room.room, members)
        setup = time.monotonic() - began
        async with running(room.config, PARTS) as run:
            await _ready(room, run)
            result = await matrix_votes(hs, run, room.room, room.bot, room.mod_token, accounts, over)
        result.extra["accounts_setup_s"] = round(setup, 1)
        return result
    finally:
        hs.stop()


async def _peers(work: Path, peers: int, each: int) -> LoadResult:
    hs = Homeserver.start(work / "synapse")
    try:
        return await peers_publishing(hs, work, peers, each)
    finally:
        hs.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenarios", nargs="*", default=["discord", "matrix", "shares", "peers"])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--over", type=float, default=60.0, help="seconds the votes or shares are spread over")
    parser.add_argument("--shares", type=int, default=100)
    parser.add_argument("--peers", type=int, default=10)
    parser.add_argument("--each", type=int, default=5, help="tracks each peer publishes")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for name in args.scenarios:
        with tempfile.TemporaryDirectory(prefix=f"wp-load-{name}-") as tmp:
            work = Path(tmp)
            load_before = os.getloadavg()[0]
            if name == "discord":
                result = await _discord(work, args.members, args.over)
            elif name == "matrix":
                result = await _matrix(work, args.members, args.over)
            elif name == "shares":
                result = await shares(work, args.shares, args.over)
            elif name == "peers":
                result = await _peers(work, args.peers, args.each)
            else:
                raise SystemExit(f"unknown scenario {name}")
            summary = result.summary()
            summary["load_average"] = round((load_before + os.getloadavg()[0]) / 2, 1)
            print(json.dumps(summary, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
