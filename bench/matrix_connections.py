"""Requests an idle instance makes to its homeserver with the Matrix chat bot and federation on.

    .venv/bin/python bench/matrix_connections.py [--seconds 30]

Starts a throwaway Synapse (tests/support/homeserver.py) and one instance with both parts on
the same account and one federation room, waits until both have synced, then counts for
``--seconds`` the ``/sync`` long-polls each part makes while nothing happens. Baseline: the
same instance with the federation on its own sync (``shared_sync=False``: what every
instance did before one sync per account), measured in the same run. Also counts the
account's devices after both runs (each run starts the instance anew on one data directory).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nio  # noqa: E402

from bots.federation.matrix_api import MatrixApi  # noqa: E402
from bots.federation.room_setup import ROOM_EVENT_LEVELS  # noqa: E402
from bots.runtime import build_parts, open_instance, start_parts, stop_parts  # noqa: E402
from config import load_settings  # noqa: E402
from tests.support.homeserver import Homeserver  # noqa: E402
from tests.support.instances import write_config  # noqa: E402

COUNTS: dict[str, int] = {"federation": 0, "chat": 0}


def _count_syncs() -> None:
    raw, chat = MatrixApi.sync, nio.AsyncClient.sync

    async def raw_sync(self: MatrixApi, *args: Any, **kwargs: Any) -> dict[str, Any]:
        COUNTS["federation"] += 1
        return await raw(self, *args, **kwargs)

    async def chat_sync(self: nio.AsyncClient, *args: Any, **kwargs: Any) -> Any:
        COUNTS["chat"] += 1
        return await chat(self, *args, **kwargs)

    MatrixApi.sync = raw_sync  # type: ignore[method-assign]
    nio.AsyncClient.sync = chat_sync  # type: ignore[method-assign]


async def _idle(config: Path, shared: bool, seconds: float) -> dict[str, float]:
    async with open_instance(load_settings(config, environ={})) as instance:
        parts = build_parts(instance, ["matrix", "federation"])
        assert parts.federation is not None and parts.matrix is not None
        parts.federation.shared_sync = shared
        start_parts(parts)
        try:
            deadline = time.monotonic() + 60
            while not (parts.matrix.ready() and parts.federation.health() == "ok"):
                assert time.monotonic() < deadline, "the parts did not start"
                await asyncio.sleep(0.1)
            await asyncio.sleep(2)  # let the first syncs settle
            before = dict(COUNTS)
            await asyncio.sleep(seconds)
            return {k: (COUNTS[k] - before[k]) / seconds * 60 for k in COUNTS}
        finally:
            await stop_parts(parts.tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    _count_syncs()
    with tempfile.TemporaryDirectory() as tmp:
        server = Homeserver.start(Path(tmp) / "synapse")
        try:
            tag = os.urandom(3).hex()
            _owner, owner_token = server.register(f"own{tag}")
            room = server.create_room(owner_token, name="bench", events=ROOM_EVENT_LEVELS)
            user, token = server.register(f"bot{tag}", password=f"pw{tag}")
            server.call("POST", "/_matrix/client/v3/logout", token)
            config = write_config(
                Path(tmp) / "a.toml",
                Path(tmp) / "a",
                http={"port": 0},
                matrix={"homeserver": server.url, "user_id": user, "password": f"pw{tag}"},
                federation={"rooms": [room]},
            )
            baseline = asyncio.run(_idle(config, False, args.seconds))
            shared = asyncio.run(_idle(config, True, args.seconds))
            kept = (Path(tmp) / "a" / "matrix_session.json").read_text()
            devices = server.call("GET", "/_matrix/client/v3/devices", json.loads(kept)["access_token"])["devices"]
        finally:
            server.stop()
    total_b, total_s = sum(baseline.values()), sum(shared.values())
    print(
        f"idle /sync per minute, two loops (baseline): {total_b:.0f} (chat {baseline['chat']:.0f}, "
        f"federation {baseline['federation']:.0f})"
    )
    print(
        f"idle /sync per minute, one shared loop: {total_s:.0f} (chat {shared['chat']:.0f}, "
        f"federation {shared['federation']:.0f}); ratio {total_s / total_b:.2f}"
    )
    print(f"devices of the account after both runs: {len(devices)}")


if __name__ == "__main__":
    main()
