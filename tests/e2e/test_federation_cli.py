"""An operator's federation session from the terminal, against `wavepool run` and a real
Synapse: `create` and `status` reach the running instance, which federates through the new
room at once, with the chat bot and federation on one kept login."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bots.federation.matrix_session import SESSION_FILE
from tests.support.homeserver import Homeserver, free_port
from tests.support.instances import write_config
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
WAVEPOOL = [sys.executable, "-m", "bots.cli"]


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory):
    server = Homeserver.start(tmp_path_factory.mktemp("synapse-e2e-fed"))
    yield server
    server.stop()


def _env() -> dict[str, str]:
    env = {**os.environ, "WAVEPOOL_HTTP_PORT": str(free_port())}
    for name in ("WAVEPOOL_CONFIG", "WAVEPOOL_DATA_DIR", "WAVEPOOL_MATRIX_ACCESS_TOKEN", "WAVEPOOL_MATRIX_PASSWORD"):
        env.pop(name, None)
    return env


def wavepool(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*WAVEPOOL, "--config", str(config), *args], capture_output=True, text=True, env=_env(), timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, f"wavepool {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done


@contextmanager
def instance(config: Path, data: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [*WAVEPOOL, "--config", str(config), "run"],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    try:
        wait_until(lambda: (data / "control.sock").exists() or proc.poll() is not None, 60, "the control socket")
        assert proc.poll() is None, proc.communicate()[0]
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.communicate(timeout=30)


def test_create_status_and_one_device_through_the_running_instance(synapse: Homeserver, tmp_path: Path) -> None:
    tag = os.urandom(3).hex()
    password = f"pw{tag}"
    user, registration_token = synapse.register(f"op{tag}", password=password)
    synapse.call("POST", "/_matrix/client/v3/logout", registration_token)
    data = tmp_path / "a"
    config = write_config(
        tmp_path / "a.toml",
        data,
        matrix={"homeserver": synapse.url, "user_id": user, "password": password},
    )
    alias = f"#fed{tag}:localhost"
    with instance(config, data):
        wait_until(lambda: (data / SESSION_FILE).exists(), 60, "the instance to log in")
        created = wavepool(config, "federation", "create", alias)
        assert f"created {alias}" in created.stdout and "replicated by the running instance now" in created.stdout
        assert "done by the running instance" in created.stderr

        def joined() -> bool:
            report = json.loads(wavepool(config, "federation", "status", "--json").stdout)
            return report["running"] and [r["joined"] for r in report["rooms"]] == [True]

        wait_until(joined, 60, "the created room in the running instance's status")
        status = wavepool(config, "federation", "status").stdout
        assert "rate limits: unknown" in status and "override_ratelimit" in status  # not an admin account
    kept = json.loads((data / SESSION_FILE).read_text())
    devices = synapse.call("GET", "/_matrix/client/v3/devices", kept["access_token"])["devices"]
    assert [d["device_id"] for d in devices] == [kept["device_id"]]
