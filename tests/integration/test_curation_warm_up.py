"""The curation index is built behind a starting instance, so the first ``discover`` does not wait for it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bots.curation_setup import start_curation_warm_up
from bots.runtime import open_instance
from config import load_settings
from core.model import Share
from core.voting_model import Voter
from storage.sqlite.voting_repository import SqliteVotingRepository
from tests.support.factories import make_track, member
from tests.support.instances import write_config


async def test_start_up_warms_the_curation_index_in_the_background(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", tmp_path / "data")
    async with open_instance(load_settings(config, environ={})) as instance:
        app = instance.app
        assert app.curation is not None
        track = make_track(member("alice"), "Night drive")
        await app.tracks.add(track, Share(track.id, member("alice"), app.clock.now(), "room"))
        await SqliteVotingRepository(instance.db).set_track_vote(track.id, Voter.of(member("bob")), 1, app.clock.now())
        assert not app.curation.feed.ready
        tasks: list[asyncio.Task[object]] = []
        task = start_curation_warm_up(instance, tasks)  # type: ignore[arg-type]
        assert task is not None and tasks == [task]
        assert await asyncio.wait_for(task, timeout=60) == 1
        assert app.curation.feed.ready
