"""A large instance builds its curation index in a child process: the same index, handed over packed."""

from __future__ import annotations

import asyncio
import sys
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


async def test_the_child_stops_when_the_instance_is_killed() -> None:
    """An instance killed with -9 cannot stop its child: the child notices and exits by itself."""
    # a stand-in instance starts a child that would run for two minutes, with the watch
    # bots.curation_child.main starts, then dies with SIGKILL
    script = (
        "import os, signal, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import threading, time, sys\\n"
        "from bots.curation_child import _exit_with_parent\\n"
        "import os\\n"
        "threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()\\n"
        "time.sleep(120)'], stdout=subprocess.DEVNULL)\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(0.5)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    parent = await asyncio.create_subprocess_exec(sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE)
    out, _ = await parent.communicate()
    child_pid = int(out.split()[0])
    for _ in range(100):  # bounded: 10 s
        if not _alive(child_pid):
            break
        await asyncio.sleep(0.1)
    assert not _alive(child_pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
