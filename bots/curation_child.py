"""Builds a large curation index in a child process and hands it over packed.

A rebuild of 2,000,000 votes makes and drops tens of millions of short-lived objects. In the
instance's own process that left ~30 MB of half-empty allocator arenas and ~55 MB of freed C
heap behind every ten minutes, raised RSS by ~190 MB while it ran, and competed for the GIL
with the event loop for ~40 s. A child (this module run with ``python -m``) reads the database
on its own read-only connection, builds the index with the same code
(``core.services.curation_feed.build_index``), and writes it to its stdout as one pickle:
the index is a few dozen arrays, so the instance receives it as a few large blocks.

A small instance (fewer than ``CHILD_FROM_VOTES`` votes) builds in its own process: there a
build takes milliseconds and a child's start-up (~0.5 s) would be the larger cost.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from core.curation_index import CurationIndex
from core.curation_ports import CurationStore
from core.services.curation_feed import build_index
from storage.sqlite.curation_store import SqliteCurationStore
from storage.sqlite.database import Database

log = logging.getLogger(__name__)

CHILD_FROM_VOTES = 200_000
PARENT_CHECK_S = 0.5
CHILD_TIMEOUT_S = 30 * 60  # 2,000,000 votes take ~40 s; a child still busy after this is stuck


class ChildBuildError(RuntimeError):
    """The child process could not build the index (its error output says why)."""


def index_builder(
    db: Database, store: CurationStore, from_votes: int = CHILD_FROM_VOTES
) -> Callable[[], Awaitable[CurationIndex]]:
    """The instance's ``CurationFeed`` build: in a child process once the votes reach ``from_votes``."""

    async def build() -> CurationIndex:
        row = await db.fetchone("SELECT max(rowid) FROM track_votes")  # an upper bound, read in O(1)
        votes = int(row[0] or 0) if row else 0
        if votes < from_votes:
            return await build_index(store)
        return await build_in_child(db.path)

    return build


async def build_in_child(db_path: Path) -> CurationIndex:
    """The index of the database at ``db_path``, built by a child process."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots.curation_child",
        str(db_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(CHILD_TIMEOUT_S):
            out, err = await child.communicate()
    except (asyncio.CancelledError, TimeoutError):  # stopping, or stuck: the child must not outlive the build
        child.kill()
        await child.wait()
        raise
    if child.returncode != 0:
        raise ChildBuildError(f"curation index build exited {child.returncode}: {err.decode(errors='replace')[-2000:]}")
    index = await asyncio.to_thread(pickle.loads, out)
    if not isinstance(index, CurationIndex):
        raise ChildBuildError(f"curation index build sent a {type(index).__name__}")
    return index


async def _build(db_path: Path) -> bytes:
    db = await Database.open(db_path, migrations=())  # the instance migrated it; this only reads
    try:
        index = await build_index(SqliteCurationStore(db))
    finally:
        await db.close()
    return pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL)


def _exit_with_parent(parent: int) -> None:
    """Stop this process once its parent is gone (an instance killed with -9 cannot kill its
    child, and a restarted one would build a second index beside the orphan's)."""
    while os.getppid() == parent:  # bounded by the parent's life; then the process exits
        time.sleep(PARENT_CHECK_S)
    os._exit(1)


def main(argv: list[str]) -> int:
    """Build the index of the database named in ``argv[1]`` and write it to stdout."""
    if len(argv) != 2 or not Path(argv[1]).is_file():
        print("usage: python -m bots.curation_child DATABASE", file=sys.stderr)
        return 2
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True, name="parent watch").start()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        packed = asyncio.run(_build(Path(argv[1])))
    except Exception as e:  # the instance shows this text: say what failed
        print(f"cannot build the curation index of {argv[1]}: {e}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(packed)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
