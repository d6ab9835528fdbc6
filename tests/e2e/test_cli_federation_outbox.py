"""`wavepool ingest` beside a running instance: accepted tracks reach the federation outbox."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.support.audio import make_mp3
from tests.support.homeserver import free_port
from tests.support.instances import write_config

ROOT = Path(__file__).resolve().parents[2]


def _ingest(config: Path, track: Path) -> dict[str, object]:
    env = {**os.environ, "WAVEPOOL_MATRIX_ACCESS_TOKEN": "unused-by-ingest"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bots.cli",
            "--config",
            str(config),
            "ingest",
            str(track),
            "--by",
            "alice",
            "--generator",
            "suno",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def _outbox(data: Path) -> list[tuple[str, dict[str, object]]]:
    with sqlite3.connect(data / "wavepool.sqlite3") as db:
        return [(kind, json.loads(content)) for kind, content in db.execute("SELECT kind, content FROM fed_outbox")]


def test_cli_ingest_queues_accepted_tracks_for_the_running_instance(tmp_path: Path) -> None:
    # The homeserver is never contacted: ingest only writes the outbox the running instance sends.
    matrix = {"homeserver": f"http://127.0.0.1:{free_port()}", "user_id": "@a:localhost"}
    federated = write_config(
        tmp_path / "a.toml", tmp_path / "a", matrix=matrix, federation={"rooms": ["#wavepool-federation:localhost"]}
    )
    record = _ingest(federated, make_mp3(tmp_path / "one.mp3", seconds=4, seed=5))
    assert _outbox(tmp_path / "a") == [("track", {"track_id": record["id"]})]
    _ingest(federated, make_mp3(tmp_path / "one.mp3", seconds=4, seed=5))  # already in the pool: not again
    assert len(_outbox(tmp_path / "a")) == 1

    alone = write_config(tmp_path / "b.toml", tmp_path / "b", matrix=matrix)  # no federation rooms
    _ingest(alone, make_mp3(tmp_path / "two.mp3", seconds=4, seed=6))
    assert _outbox(tmp_path / "b") == []
