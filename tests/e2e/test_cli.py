"""The command line as an operator uses it, in subprocesses, on a fresh data directory."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support.audio import make_mp3, make_suno_like_mp3
from tests.support.waiting import wait_until

WAVEPOOL = [sys.executable, "-m", "bots.cli"]


def run(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WAVEPOOL_DATA_DIR": str(data_dir)}
    env.pop("WAVEPOOL_CONFIG", None)
    done = subprocess.run(
        [*WAVEPOOL, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    if check and done.returncode != 0:
        raise AssertionError(f"wavepool {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def test_ingest_show_verify(tmp_path: Path) -> None:
    data = tmp_path / "data"
    track = make_mp3(tmp_path / "night drive.mp3", seconds=4, seed=3)
    out = run(
        data, "ingest", str(track), "--by", "alice", "--generator", "suno", "--prompt", "dreamy 80s synthwave", "--json"
    )
    record = json.loads(out.stdout)
    assert record["cid"].startswith("bafkrei")
    assert record["verdict"] == "declared"
    assert record["genre"] == "synthwave"  # from the prompt
    assert record["sharer"]["display_name"] == "alice"
    shown = run(data, "show", record["cid"][:16]).stdout
    assert "dreamy 80s synthwave" in shown and "DECLARED" in shown and "LUFS" in shown
    again = run(data, "ingest", str(track), "--by", "bob").stdout
    assert "already in the pool" in again and "alice" in again
    verified = run(data, "pool", "verify").stdout
    assert "1 ok, 0 corrupt" in verified
    blob = next((data / "pool" / "blobs").glob("*/*"))
    blob.write_bytes(b"garbage")
    bad = run(data, "pool", "verify", check=False)
    assert bad.returncode == 1 and "corrupt, moved aside" in bad.stdout


def test_suno_tagged_file_is_declared_until_suno_confirms(tmp_path: Path) -> None:
    data = tmp_path / "data"
    song = make_suno_like_mp3(
        tmp_path / "suno.mp3",
        song_id="0b7c2f4e-1111-4a4a-9f9f-123456789abc",
        title="Neon Rain",
        artist="alice",
        lyrics="la la",
        created="2026-11-01T10:00:00Z",
    )
    record = json.loads(run(data, "ingest", str(song), "--by", "alice", "--generator", "suno", "--json").stdout)
    assert record["verdict"] == "declared", record["verdict_reason"]
    assert "not yet confirmed by suno" in record["verdict_reason"]
    assert record["generator_song_id"] == "0b7c2f4e-1111-4a4a-9f9f-123456789abc"
    assert record["title"] == "Neon Rain"


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("notes.mp3", b"just some text, not audio\n" * 20, "not audio"),
        ("empty.mp3", b"", "empty"),
        ("page.mp3", b"<!doctype html><html><body>hi</body></html>", "not audio"),
        ("random.mp3", os.urandom(20000), "not audio"),
    ],
)
def test_bad_files_are_refused_clearly(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    data = tmp_path / "data"
    good = make_mp3(tmp_path / "good.mp3", seconds=3, seed=1)
    run(data, "ingest", str(good), "--by", "alice")
    bad = tmp_path / name
    bad.write_bytes(content)
    done = run(data, "ingest", str(bad), "--by", "mallory", check=False)
    assert done.returncode == 1
    assert message in done.stderr.lower(), done.stderr
    assert "Traceback" not in done.stderr
    assert "1 blobs" in run(data, "pool", "stats").stdout


def test_cmd_runs_declared_commands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    track = make_mp3(tmp_path / "a.mp3", seconds=3, seed=5)
    run(data, "ingest", str(track), "--by", "alice", "--user-id", "alice", "--prompt", "chill study lofi")
    assert "round start" in run(data, "cmd", "help").stdout
    started = run(data, "cmd", "round", "start", "Night drive", "--submit", "1h", "--vote", "1h").stdout
    assert "Round #1" in started
    status = run(data, "cmd", "round", "status", "1").stdout
    assert "submission" in status
    refused = run(data, "cmd", "--as", "bob", "round", "close", "1", check=False)
    assert refused.returncode == 1 and "moderator" in refused.stderr
    genres = run(data, "cmd", "genres").stdout
    assert "synthwave" in genres and "lofi" in genres


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthz(port: int, timeout_s: float = 60, until: str | None = None) -> dict[str, object]:
    """GET /healthz, once the server answers (and says ``until``, if given; bounded wait)."""
    answer: dict[str, object] = {}

    def answered() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                answer.clear()
                answer.update(json.loads(response.read()))
                return until is None or answer.get("status") == until
        except OSError:
            return False

    wait_until(answered, timeout_s, "the HTTP server to answer /healthz")
    return answer


def test_run_serves_healthz_on_embedded_defaults(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = _free_port()
    env = {**os.environ, "WAVEPOOL_DATA_DIR": str(data), "WAVEPOOL_HTTP_PORT": str(port)}
    env.pop("WAVEPOOL_CONFIG", None)
    proc = subprocess.Popen(
        [*WAVEPOOL, "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        health = _healthz(port, until="ok")
        assert health["parts"] == {"scheduler": "ok"}
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, output
    assert str(data) in output  # the log says where the data lives


def test_run_keeps_serving_when_the_homeserver_is_down(tmp_path: Path) -> None:
    port = _free_port()
    config = tmp_path / "wavepool.toml"
    config.write_text(
        f'[instance]\ndata_dir = "{tmp_path / "data"}"\n[http]\nport = {port}\n'
        f'[matrix]\nhomeserver = "http://127.0.0.1:{_free_port()}"\nuser_id = "@bot:localhost"\n'
        'access_token = "nope"\n[federation]\nrooms = ["!room:localhost"]\n'
    )
    env = {k: v for k, v in os.environ.items() if k != "WAVEPOOL_CONFIG"}
    log = tmp_path / "run.log"
    with log.open("w") as output:
        proc = subprocess.Popen(
            [*WAVEPOOL, "--config", str(config), "run"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
    try:
        health = _healthz(port)
        assert health["status"] == "degraded", health  # serving, and saying what is wrong

        def retried() -> bool:  # a failed login, then the retry after the backoff failed too
            return log.read_text().count("Matrix login failed") >= 2 or proc.poll() is not None

        wait_until(retried, 30, "a second Matrix login attempt")
        assert proc.poll() is None, "the instance stopped because the homeserver was down"
        health = _healthz(port)  # still serving after the failed attempts, and saying why it is degraded
        parts = health["parts"]
        assert isinstance(parts, dict) and "Matrix login failed" in parts["matrix"], health
        assert "federation" in parts["federation"] and "failed" in parts["federation"], health
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    output_text = log.read_text()
    assert "Matrix login failed" in output_text and "Traceback" not in output_text, output_text
