"""A large instance builds its curation index in a child process: the same index, handed over packed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.curation_child import ChildBuildError, build_in_child, index_builder
from core.services.curation_feed import build_index
from tests.support.curation import answers_of, people, world


async def test_the_child_builds_the_index_the_instance_would_build(tmp_path: Path) -> None:
    async with world("sqlite", tmp_path) as w:
        sharers, voters = people("sharer", 4), people("voter", 12)
        tracks = [await w.share(s, f"Night drive {n}", prompt="warm analog pads") for n, s in enumerate(sharers * 3)]
        for n, voter in enumerate(voters):
            for track in tracks[n % 5 :: 2]:
                await w.vote(track, voter)
        db = w.db
        assert db is not None
        here = await build_index(w.curation.store)
        there = await build_in_child(db.path)
        assert there.like_count == here.like_count > 50
        assert answers_of(there) == answers_of(here)
        # the instance's build goes to the child once the votes reach the threshold, not before
        assert answers_of(await index_builder(db, w.curation.store, from_votes=1)()) == answers_of(here)
        assert answers_of(await index_builder(db, w.curation.store)()) == answers_of(here)


async def test_a_child_that_cannot_build_says_why(tmp_path: Path) -> None:
    (tmp_path / "not-a-database").write_bytes(b"x" * 4096)
    with pytest.raises(ChildBuildError, match="not a database"):
        await build_in_child(tmp_path / "not-a-database")
