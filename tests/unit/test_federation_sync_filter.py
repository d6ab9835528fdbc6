"""The federation's sync filter: uploaded once and named by id; a homeserver that refuses it
gets syncs without a filter (and one clear log line), a passing failure is retried as it was."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bots.federation.matrix_api import MatrixError
from bots.federation.room_reader import TYPES, RoomReader, sync_filter
from storage.sqlite.bot_state import BotState
from storage.sqlite.database import Database

ROOM = "!fed:hs"
REFUSED = '{"errcode": "M_INVALID_PARAM", "error": "Invalid filter"}'


class FilterApi:
    """Answers syncs with an empty room list; refuses the filter's upload, or its use, when told."""

    user_id = "@bot:hs"

    def __init__(self, refuse_upload: int = 0, refuse_sync: int = 0) -> None:
        self.refuse_upload = refuse_upload
        self.refuse_sync = refuse_sync
        self.forgotten: set[str] = set()  # filter ids the homeserver no longer knows
        self.uploads: list[dict[str, Any]] = []
        self.syncs: list[str | None] = []

    async def upload_filter(self, filter_json: str) -> str:
        if self.refuse_upload:
            raise MatrixError(self.refuse_upload, REFUSED)
        self.uploads.append(json.loads(filter_json))
        return f"f{len(self.uploads)}"

    async def sync(self, since: str | None, timeout_ms: int, sync_filter: str | None) -> dict[str, Any]:
        self.syncs.append(sync_filter)
        if sync_filter is not None and self.refuse_sync:
            raise MatrixError(self.refuse_sync, REFUSED)
        if sync_filter in self.forgotten:
            raise MatrixError(400, '{"errcode": "M_INVALID_PARAM", "error": "No such filter"}')
        return {"next_batch": f"s{len(self.syncs)}", "rooms": {}}


@pytest.fixture
async def state(tmp_path: Path) -> AsyncIterator[tuple[Database, BotState]]:
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        yield db, BotState(db)
    finally:
        await db.close()


class NoReplicator:
    store = None  # no room has events here: nothing is handed on


def _reader(api: FilterApi, state: tuple[Database, BotState]) -> RoomReader:
    db, bot_state = state
    return RoomReader(api, NoReplicator(), bot_state, [ROOM], db)  # type: ignore[arg-type]


def test_the_filter_asks_for_the_rooms_and_types_read_and_nothing_else() -> None:
    wanted = json.loads(sync_filter([ROOM], 100))
    assert wanted["room"]["rooms"] == [ROOM]
    assert wanted["room"]["timeline"] == {"limit": 100, "types": TYPES}
    assert wanted["room"]["state"]["lazy_load_members"] is True
    for blocked in (wanted["presence"], wanted["account_data"], wanted["room"]["ephemeral"]):
        assert blocked == {"types": []}
    assert wanted["room"]["account_data"] == {"types": []}


async def test_the_filter_is_uploaded_once_and_named_by_id(state: tuple[Database, BotState]) -> None:
    api = FilterApi()
    reader = _reader(api, state)
    for _ in range(3):
        await reader.sync_once(0)
    # the first sync asks for one event a room (the history is paged), in the request itself
    # (it is used once); later ones for 100, by the id of the filter uploaded once
    first = api.syncs[0]
    assert first is not None and json.loads(first)["room"]["timeline"]["limit"] == 1
    assert [u["room"]["timeline"]["limit"] for u in api.uploads] == [100]
    assert api.syncs[1:] == ["f1", "f1"]
    assert await state[1].get("federation", "since") == "s3"
    reader.rooms.append("!other:hs")  # a room joined: a new filter
    await reader.sync_once(0)
    assert api.uploads[-1]["room"]["rooms"] == [ROOM, "!other:hs"]
    assert api.syncs[-1] == "f2"


@pytest.mark.parametrize("where", ["upload", "sync"])
async def test_a_refused_filter_falls_back_to_syncs_without_one_with_a_clear_log_line(
    where: str, state: tuple[Database, BotState], caplog: pytest.LogCaptureFixture
) -> None:
    api = FilterApi(refuse_upload=400 if where == "upload" else 0, refuse_sync=400 if where == "sync" else 0)
    reader = _reader(api, state)
    caplog.set_level(logging.WARNING, logger="bots.federation.room_reader")
    for _ in range(4):
        await reader.sync_once(0)
    (line,) = [r for r in caplog.records if "refused the federation's sync filter" in r.getMessage()]
    assert "without one" in line.getMessage() and "M_INVALID_PARAM" in line.getMessage()
    assert api.syncs[-2:] == [None, None]  # every sync still happens, unfiltered
    assert await state[1].get("federation", "since") == f"s{len(api.syncs)}"


async def test_a_passing_failure_keeps_the_filter(state: tuple[Database, BotState]) -> None:
    api = FilterApi()
    reader = _reader(api, state)
    await reader.sync_once(0)  # the first sync carries its filter
    api.refuse_sync = 502
    with pytest.raises(MatrixError):
        await reader.sync_once(0)  # the caller backs off and tries again
    api.refuse_sync = 0
    await reader.sync_once(0)
    assert api.syncs[1:] == ["f1", "f1"]


async def test_a_filter_the_homeserver_forgot_is_uploaded_again(
    state: tuple[Database, BotState], caplog: pytest.LogCaptureFixture
) -> None:
    api = FilterApi()
    reader = _reader(api, state)
    await reader.sync_once(0)
    await reader.sync_once(0)
    api.forgotten.add("f1")  # e.g. the homeserver's database was restored from a backup
    caplog.set_level(logging.WARNING, logger="bots.federation.room_reader")
    await reader.sync_once(0)
    assert api.syncs[1:] == ["f1", "f1", "f2"]
    assert not [r for r in caplog.records if "refused" in r.getMessage()]
