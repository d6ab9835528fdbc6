"""kill -9 at awkward moments: nothing accepted is lost, nothing half-written is visible."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from core.cid import cid_from_digest
from core.views.rounds import status_reply
from tests.support.audio import make_mp3
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _env(data: Path) -> dict[str, str]:
    env = {**os.environ, "WAVEPOOL_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}
    env.pop("WAVEPOOL_CONFIG", None)
    return env


def _check_pool(data: Path) -> tuple[int, int]:
    """Every visible blob hashes to its name; every track row has its blob. Returns counts."""
    blobs = list((data / "pool" / "blobs").glob("*/*"))
    for blob in blobs:
        assert cid_from_digest(hashlib.sha256(blob.read_bytes()).digest()) == blob.name, f"partial blob {blob}"
    db = data / "wavepool.sqlite3"
    rows: list[tuple[str]] = []
    if db.exists():
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT cid FROM tracks").fetchall()
    names = {b.name for b in blobs}
    for (cid,) in rows:
        assert cid in names, f"track row without its blob: {cid}"
    return len(blobs), len(rows)


INGEST_MANY = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from config import load_settings
    from bots.runtime import open_instance
    from core.model import Declaration
    from tests.support.factories import member

    async def main():
        async with open_instance(load_settings(None)) as inst:
            for index, name in enumerate(sys.argv[1:]):
                print("begin", index, flush=True)
                path = Path(name)
                reply = await inst.app.share.share_file(path, member(f"m{index}"), Declaration(generator="suno"),
                                                        filename=path.name)
                track = reply.track
                print("accepted", index, track.id, track.cid, flush=True)
        print("finished", flush=True)

    asyncio.run(main())
""")


class Progress:
    """The lines a child reports, read as they come (a thread drains its stdout)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[list[str]] = []
        assert proc.stdout is not None
        stdout = proc.stdout

        def read() -> None:
            for line in stdout:  # until the child's end closes the pipe
                self.lines.append(line.split())

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()

    def of(self, kind: str) -> list[list[str]]:
        return [line[1:] for line in list(self.lines) if line and line[0] == kind]

    def drain(self) -> None:
        """After the child ended: every line it wrote."""
        self._reader.join(timeout=30)
        assert not self._reader.is_alive()


def _blob_count(data: Path) -> int:
    return len(list((data / "pool" / "blobs").glob("*/*")))


def _track_rows(data: Path) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(data / "wavepool.sqlite3")) as conn:
        return dict(conn.execute("SELECT id, cid FROM tracks").fetchall())


def test_sigkill_mid_ingest_keeps_every_accepted_track_and_no_partial_state(tmp_path: Path) -> None:
    data = tmp_path / "data"
    sources = [str(make_mp3(tmp_path / f"t{i}.mp3", seconds=6 + i, seed=i)) for i in range(3)]
    before_kill = 2
    proc = subprocess.Popen(
        [sys.executable, "-c", INGEST_MANY, *sources],
        env=_env(data),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    progress = Progress(proc)
    try:
        wait_until(
            lambda: len(progress.of("accepted")) >= before_kill or proc.poll() is not None,
            120,
            f"{before_kill} accepted tracks",
        )
        assert proc.poll() is None, "the child ended before the kill"
        # Kill while the next track is half-way: its blob is in the pool, its row is not yet
        # written (the analysis between the two takes a good fraction of a second).
        wait_until(
            lambda: _blob_count(data) > len(progress.of("accepted")) or proc.poll() is not None,
            60,
            "the next track's blob in the pool",
            poll_s=0.002,
        )
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    progress.drain()
    assert proc.returncode == -signal.SIGKILL
    accepted = {track_id: cid for _, track_id, cid in progress.of("accepted")}
    begun = [int(index) for (index,) in progress.of("begin")]
    # the kill interrupted work in progress: a track was begun and never accepted, the run never finished
    assert not progress.of("finished")
    assert len(accepted) >= before_kill and begun[-1] == len(accepted), progress.lines
    # ... half-way through its writes: its blob is stored, no row references it
    blobs, rows = _check_pool(data)
    assert (blobs, rows) == (len(accepted) + 1, len(accepted))
    # everything reported as accepted survived, with its bytes
    assert _track_rows(data) == accepted

    # the next start cleans up: no temp files, the orphan blob is garbage, the interrupted file ingests again
    verify = subprocess.run(
        [sys.executable, "-m", "bots.cli", "pool", "verify"],
        env=_env(data),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert not list((data / "pool" / "tmp").glob("*.part"))
    gc = subprocess.run(
        [sys.executable, "-m", "bots.cli", "pool", "gc"],
        env=_env(data),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "removed 1 unreferenced blobs" in gc.stdout, gc.stdout + gc.stderr
    rest = subprocess.run(
        [sys.executable, "-c", INGEST_MANY, *sources[len(accepted) :]],
        env=_env(data),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rest.returncode == 0 and "finished" in rest.stdout, rest.stdout + rest.stderr
    assert _check_pool(data) == (len(sources), len(sources))
    assert accepted.items() <= _track_rows(data).items()


DURABLE = textwrap.dedent("""
    import asyncio, sys
    from datetime import timedelta
    from config import load_settings
    from bots.runtime import open_instance
    from core.model import Sharer
    from core.voting_model import RoundRules
    from tests.support.factories import make_track, member

    async def main():
        async with open_instance(load_settings(None)) as inst:
            voting = inst.app.voting
            rnd = await voting.start(RoundRules(theme="Crash test"), member("mod"), "cli",
                                     timedelta(hours=1), timedelta(hours=1))
            bob = member("bob")
            track = make_track(bob, "Bob's entry")
            await inst.app.tracks.add(track)
            await voting.submit(str(rnd.id), track.id, bob)
            await voting.vote_track(track.id, member("carol"), 1)
            print("acknowledged", rnd.id, track.id, flush=True)
            await asyncio.Event().wait()  # stay up until killed

    asyncio.run(main())
""")


def test_acknowledged_round_entry_and_vote_survive_sigkill(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-c", DURABLE], env=_env(data), cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("acknowledged"), line
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    _, round_id, track_id = line.split()

    async def check() -> None:
        from bots.runtime import open_instance
        from config import load_settings

        os.environ["WAVEPOOL_DATA_DIR"] = str(data)
        try:
            async with open_instance(load_settings(None)) as inst:
                assert inst.app.voting is not None
                rnd = await inst.app.voting.get(round_id)
                assert rnd.rules.theme == "Crash test"
                status = await status_reply(inst.app.tracks, rnd, await inst.app.voting.entries(rnd), 0)
                assert "Bob's entry" in status.text
                assert await inst.app.voting.track_votes([track_id]) == {track_id: 1}
        finally:
            os.environ.pop("WAVEPOOL_DATA_DIR", None)

    asyncio.run(check())
