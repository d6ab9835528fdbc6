"""kill -9 at awkward moments: nothing accepted is lost, nothing half-written is visible."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from core.cid import cid_from_digest
from core.views.rounds import status_reply
from tests.support.audio import make_mp3

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


def test_sigkill_during_ingest_leaves_no_partial_state(tmp_path: Path) -> None:
    data = tmp_path / "data"
    sources = [make_mp3(tmp_path / f"t{i}.mp3", seconds=20 + i, seed=i) for i in range(4)]
    delays = [0.2, 0.5, 0.8, 1.2, 1.6, 2.2]
    for index, delay in enumerate(delays):
        source = sources[index % len(sources)]
        proc = subprocess.Popen([sys.executable, "-m", "bots.cli", "ingest", str(source), "--by", "alice"],
                                env=_env(data), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        _check_pool(data)
    # the next start cleans temp files and everything still holds
    done = subprocess.run([sys.executable, "-m", "bots.cli", "pool", "verify"], env=_env(data), cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not list((data / "pool" / "tmp").glob("*.part"))
    blobs, rows = _check_pool(data)
    assert rows <= blobs


DURABLE = textwrap.dedent('''
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
            await asyncio.sleep(3600)

    asyncio.run(main())
''')


def test_acknowledged_round_entry_and_vote_survive_sigkill(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-c", DURABLE], env=_env(data), cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
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
                status = await status_reply(inst.app.tracks, rnd, await inst.app.voting.entries(rnd), [])
                assert "Bob's entry" in status.text
                assert await inst.app.voting.track_votes([track_id]) == {track_id: 1}
        finally:
            os.environ.pop("WAVEPOOL_DATA_DIR", None)

    asyncio.run(check())
