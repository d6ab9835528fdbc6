"""The federation's part of the chat bot's sync: a batch that fails is paged over with the next."""

from __future__ import annotations

from pathlib import Path

from bots.federation.matrix_api import MatrixApi
from bots.federation.part import FederationRunner
from bots.federation.room_reader import RoomBatch
from bots.runtime import open_instance
from config import load_settings
from tests.support.instances import write_config

ROOM = "!fed:hs"


class FlakyReader:
    """Fails the first batch it is handed, as a homeserver hiccup during backfill would."""

    def __init__(self) -> None:
        self.rooms = [ROOM]
        self.limited: list[bool] = []

    async def handle_room(self, room_id: str, batch: RoomBatch) -> None:
        self.limited.append(batch.limited)
        if len(self.limited) == 1:
            raise ConnectionError("homeserver hiccup")


async def test_a_failed_shared_batch_is_read_again_as_a_gap(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "a.toml",
        tmp_path / "a",
        http={"port": 0},
        matrix={"homeserver": "http://127.0.0.1:9", "user_id": "@a:hs", "access_token": "unused"},
    )
    async with open_instance(load_settings(config, environ={})) as instance:
        api = MatrixApi("http://127.0.0.1:9", "unused", "@a:hs")  # never called: the reader is replaced
        runner = FederationRunner(instance, api, [ROOM], shared_sync=True)
        reader = FlakyReader()
        runner.reader = reader  # type: ignore[assignment]
        runner.joined = True
        for token in ("t1", "t2", "t3"):
            await runner.feed({ROOM: RoomBatch((), (), False, token), "!chat:hs": RoomBatch((), (), False, token)})
        # the failed batch's events are between the last one read and the next batch: paged back once
        assert reader.limited == [False, True, False]
