"""docker/compose.yaml on a real Docker engine: built images, init service, two federating instances."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.cid import cid_from_digest
from tests.docker.engine import (
    BASE_IMAGE,
    ROOT,
    Engine,
    EngineUnavailable,
    build,
    copy_extra_ca,
    import_base_image,
    run,
    wait_builds,
)
from tests.support.audio import make_mp3, make_wav
from tests.support.homeserver import free_port

pytestmark = [pytest.mark.docker, pytest.mark.slow]

WAVEPOOL_IMAGE = "wavepool-test:local"
SYNAPSE_IMAGE = "wavepool-test-synapse:local"
PROJECT = "wavepooltest"
ROOM_ALIAS = "#wavepool-federation:localhost"


def _synapse_version() -> str:
    from importlib.metadata import version

    return version("matrix-synapse")  # the version the rest of the suite tests against


def wait_for(check: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what} (last: {last!r})")


def http_get(url: str, token: str | None = None) -> tuple[int, bytes]:
    """(status, body); status 0 when nothing answers."""
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


@dataclass
class Stack:
    """The compose project under test, as the host sees it."""

    workdir: Path
    env: dict[str, str]
    ports: dict[str, int]
    tokens: dict[str, str] = field(default_factory=dict)

    def resolve(self) -> None:
        """docker/compose.yaml merged with the test override, minus the published ports.

        Host networking cannot publish ports and docker-compose v1 refuses a service with
        both, while an override can only add ports, not remove them: so the merged file
        (``docker-compose config``) is written out without them.
        """
        merged = run(
            [
                "docker-compose",
                "-f",
                str(ROOT / "docker" / "compose.yaml"),
                "-f",
                str(ROOT / "tests" / "docker" / "compose.test.yaml"),
                "config",
            ],
            env=self.env,
            cwd=ROOT,
        ).stdout
        config = yaml.safe_load(merged)
        for service in config["services"].values():
            service.pop("ports", None)
        self.compose_file.write_text(yaml.safe_dump(config))

    @property
    def compose_file(self) -> Path:
        return self.workdir / "compose.resolved.yaml"

    def compose(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
        """docker-compose on the resolved file."""
        return run(
            ["docker-compose", "-p", PROJECT, "-f", str(self.compose_file), *args],
            timeout=timeout,
            check=check,
            env=self.env,
            cwd=ROOT,
        )

    def container(self, service: str) -> str:
        """The container of a service (docker-compose v1 names them project_service_1)."""
        return f"{PROJECT}_{service}_1"

    def health(self, service: str) -> str:
        """The engine's health status of a service's container."""
        done = run(["docker", "inspect", "-f", "{{.State.Health.Status}}", self.container(service)], check=False)
        return done.stdout.strip() if done.returncode == 0 else "absent"

    def state(self, service: str) -> str:
        """The container's status and exit code, e.g. "exited 0"."""
        return run(
            ["docker", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", self.container(service)]
        ).stdout.strip()

    def wait_healthy(self, *services: str, timeout_s: float = 240) -> None:
        """Wait until each service's HEALTHCHECK (GET /healthz) passes."""
        for service in services:
            wait_for(lambda s=service: self.health(s) == "healthy", timeout_s, f"{service} to be healthy")

    def url(self, service: str, path: str) -> str:
        """A URL on a service's HTTP port."""
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def healthz(self, service: str) -> dict[str, Any]:
        """The instance's /healthz document."""
        status, body = http_get(self.url(service, "/healthz"))
        assert status == 200, (service, status, body[:300])
        return dict(json.loads(body))

    def volume_path(self, volume: str) -> Path:
        """Where the engine keeps a named volume of the project (this test runs as root)."""
        out = run(["docker", "volume", "inspect", "-f", "{{.Mountpoint}}", f"{PROJECT}_{volume}"]).stdout
        return Path(out.strip())

    def token(self, name: str) -> str:
        """A bot's access token, as the init service stored it."""
        return (self.volume_path("matrix-secrets") / f"{name}.token").read_text().strip()

    def matrix(self, path: str, token: str) -> Any:
        """A GET on the homeserver; the JSON body."""
        status, body = http_get(self.url("synapse", path), token)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)

    def ingest(self, service: str, audio: Path) -> dict[str, Any]:
        """`docker compose exec <service> wavepool ingest` of a file copied into the container."""
        target = f"/tmp/{audio.name}"
        run(["docker", "cp", str(audio), f"{self.container(service)}:{target}"])
        done = self.compose(
            "exec",
            "-T",
            service,
            "wavepool",
            "ingest",
            target,
            "--by",
            "docker-test",
            "--generator",
            "suno",
            "--json",
            timeout=300,
        )
        return dict(json.loads(done.stdout))

    def blob_on(self, service: str, cid: str) -> bytes | None:
        """The blob as the service's web port serves it, or None."""
        status, body = http_get(self.url(service, f"/blobs/{cid}"))
        return body if status == 200 else None


def cid_of(data: bytes) -> str:
    return cid_from_digest(hashlib.sha256(data).digest())


def make_big_wav(path: Path, seconds: float, seed: int) -> Path:
    """A long WAV (~10 MB a minute): a 20 s melody looped by ffmpeg, far faster than generating it all."""
    piece = make_wav(path.with_name(f"piece{seed}.wav"), seconds=20.0, seed=seed)
    run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-stream_loop",
            str(round(seconds / 20) - 1),
            "-i",
            str(piece),
            "-c",
            "copy",
            str(path),
        ],
        timeout=120,
    )
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Engine, local base, both images, `up`; removes all of it afterwards."""
    workdir = tmp_path_factory.mktemp("docker")
    engine = Engine(workdir / "dockerd.log")
    try:
        engine.start()
    except EngineUnavailable as error:
        pytest.skip(f"no Docker engine can run here: {error}")
    ports = {"synapse": free_port(), "alpha": free_port(), "beta": free_port()}
    env = {
        **os.environ,
        "WAVEPOOL_IMAGE": WAVEPOOL_IMAGE,
        "SYNAPSE_IMAGE": SYNAPSE_IMAGE,
        "WAVEPOOL_TEST_SYNAPSE_PORT": str(ports["synapse"]),
        "WAVEPOOL_TEST_ALPHA_PORT": str(ports["alpha"]),
        "WAVEPOOL_TEST_BETA_PORT": str(ports["beta"]),
        "COMPOSE_PROJECT_NAME": PROJECT,
    }
    the_stack = Stack(workdir, env, ports)
    copied: list[Path] = []
    the_stack.resolve()
    volumes_before = set(run(["docker", "volume", "ls", "-q"]).stdout.split())
    try:
        import_base_image()
        copied = copy_extra_ca(ROOT / "docker" / "ca-certificates") + copy_extra_ca(
            ROOT / "tests" / "docker" / "synapse" / "ca-certificates"
        )
        builds = {
            WAVEPOOL_IMAGE: (
                build(WAVEPOOL_IMAGE, ROOT, ROOT / "docker" / "Dockerfile", workdir / "build-wavepool.log"),
                workdir / "build-wavepool.log",
            ),
            SYNAPSE_IMAGE: (
                build(
                    SYNAPSE_IMAGE,
                    ROOT / "tests" / "docker" / "synapse",
                    ROOT / "tests" / "docker" / "synapse" / "Dockerfile",
                    workdir / "build-synapse.log",
                    SYNAPSE_VERSION=_synapse_version(),
                ),
                workdir / "build-synapse.log",
            ),
        }
        wait_builds(builds, timeout_s=900)
        the_stack.compose("up", "-d", "--no-build", timeout=600)
        yield the_stack
    finally:
        for path in copied:
            path.unlink(missing_ok=True)
        try:
            logs = the_stack.compose("logs", "--no-color", "--tail", "60", check=False, timeout=120)
            (workdir / "compose.log").write_text(logs.stdout + logs.stderr)
            the_stack.compose("down", "-v", "--remove-orphans", "--timeout", "30", check=False, timeout=300)
            left = set(run(["docker", "volume", "ls", "-q"]).stdout.split()) - volumes_before
            if os.environ.get("WAVEPOOL_DOCKER_KEEP_IMAGES") != "1":  # kept only to rerun faster while working on this
                run(["docker", "rmi", "-f", WAVEPOOL_IMAGE, SYNAPSE_IMAGE, BASE_IMAGE], check=False, timeout=300)
                run(["docker", "image", "prune", "-f"], check=False, timeout=300)  # the builds' intermediate layers
            assert not left, f"volumes left behind: {left}"
        finally:
            engine.stop()


def test_compose_up_federates_and_keeps_data_across_restarts(stack: Stack, tmp_path: Path) -> None:
    """Both instances come up healthy and joined; a track ingested in alpha reaches beta's pool;
    restart, down/up and a stop mid-replication keep or leave consistent data.

    Measured here (2 cores shared with five other engineers' tests, load average 10-13), base
    root file system cached in .cache/docker/: 13-15 min from nothing (engine start, both image
    builds ~8-10 min, this body ~3-3.5 min, removing it all ~1.5 min); 4.5-6.5 min with the
    images kept from an earlier run (WAVEPOOL_DOCKER_KEEP_IMAGES=1). The builds, not the test,
    miss the 10-minute goal on this loaded machine.
    """
    stack.wait_healthy("alpha", "beta")
    alpha_token, beta_token = stack.token("alpha"), stack.token("beta")
    room_id = stack.matrix("/_matrix/client/v3/directory/room/" + urllib.parse.quote(ROOM_ALIAS), alpha_token)[
        "room_id"
    ]

    def both_published_their_key() -> bool:
        state = stack.matrix(f"/_matrix/client/v3/rooms/{room_id}/state", alpha_token)
        keys = {event["state_key"] for event in state if event["type"] == "org.wavepool.instance"}
        return keys >= {"@alpha:localhost", "@beta:localhost"}

    wait_for(both_published_their_key, 120, "both instances to join the room and publish their key")
    members = stack.matrix(f"/_matrix/client/v3/rooms/{room_id}/joined_members", beta_token)["joined"]
    assert set(members) == {"@alpha:localhost", "@beta:localhost"}
    history = stack.matrix(f"/_matrix/client/v3/rooms/{room_id}/state/m.room.history_visibility", alpha_token)
    assert history["history_visibility"] == "shared"

    # A track ingested in alpha with `docker compose exec` appears in beta's pool, same CID.
    track = stack.ingest("alpha", make_mp3(tmp_path / "first.mp3", seconds=6.0, seed=11))
    cid = track["cid"]
    assert track["status"] == "active", track
    blob = wait_for(lambda: stack.blob_on("beta", cid), 120, "beta to serve the ingested track's blob")
    assert cid_of(blob) == cid

    # `restart` of alpha keeps its pool, database and identity.
    alpha_before = stack.healthz("alpha")
    stack.compose("restart", "alpha")
    stack.wait_healthy("alpha")
    alpha_after = stack.healthz("alpha")
    assert alpha_after["instance"] == alpha_before["instance"]
    assert alpha_after["tracks"] == alpha_before["tracks"] >= 1
    assert cid_of(stack.blob_on("alpha", cid) or b"") == cid

    # `down` without -v, then `up`: same accounts, tokens, room, identities and pools.
    beta_before = stack.healthz("beta")
    stack.compose("down", "--timeout", "30")
    stack.compose("up", "-d", "--no-build", timeout=600)
    stack.wait_healthy("alpha", "beta")
    assert (stack.token("alpha"), stack.token("beta")) == (alpha_token, beta_token)
    assert (
        stack.matrix("/_matrix/client/v3/directory/room/" + urllib.parse.quote(ROOM_ALIAS), alpha_token)["room_id"]
        == room_id
    )
    for service, before in (("alpha", alpha_before), ("beta", beta_before)):
        after = stack.healthz(service)
        assert (after["instance"], after["tracks"]) == (before["instance"], before["tracks"]), service
        assert cid_of(stack.blob_on(service, cid) or b"") == cid
    init_log = stack.compose("logs", "--no-color", "init").stdout
    assert "existing token still valid" in init_log and "exists" in init_log, init_log[-2000:]

    # `stop` of beta while it downloads a big track leaves no partial blob; the fetch resumes.
    big = stack.ingest("alpha", make_big_wav(tmp_path / "big.wav", seconds=240.0, seed=12))
    beta_pool = stack.volume_path("beta-data") / "pool"

    def beta_is_downloading() -> bool:
        return any(part.stat().st_size > 0 for part in (beta_pool / "tmp").glob("*.part"))

    wait_for(beta_is_downloading, 300, "beta to start downloading the big track", interval_s=0.002)
    stack.compose("stop", "--timeout", "30", "beta")
    # exit code 0: SIGTERM ended the instance cleanly, well within the grace period
    assert stack.state("beta") == "exited 0"
    assert not list((beta_pool / "tmp").glob("*.part")), "a partial download was left behind"
    for stored in (beta_pool / "blobs").glob("*/*"):
        assert cid_of(stored.read_bytes()) == stored.name, f"{stored} does not match its CID"
    stack.compose("start", "beta")
    stack.wait_healthy("beta")
    fetched = wait_for(lambda: stack.blob_on("beta", big["cid"]), 180, "beta to resume the big track's fetch")
    assert cid_of(fetched) == big["cid"]
