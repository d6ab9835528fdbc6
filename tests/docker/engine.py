"""A real Docker engine for the tests: started here if none runs, a local Debian base, builds, compose.

How it works on machines without an image registry: `dockerd --bridge=none --iptables=false
--ip6tables=false`, every container on host networking, a base image imported from a
debootstrap root file system (cached as a tarball under .cache/docker/), and images built
from it with the machine's extra CA certificates so pip can verify TLS.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "docker"
BASE_IMAGE = "wavepool-test-base:bookworm"
EXTRA_CA = Path("/usr/local/share/ca-certificates")


class EngineUnavailable(Exception):
    """dockerd cannot run here; the message says why."""


def run(
    args: Sequence[str], timeout: float = 600, check: bool = True, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise with its output."""
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **kwargs)  # type: ignore[call-overload]
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


def engine_answers() -> bool:
    """`docker info` reaches a running engine."""
    if shutil.which("docker") is None:
        return False
    return run(["docker", "info"], timeout=30, check=False).returncode == 0


class Engine:
    """The Docker engine the tests use; stops it at the end only if it started it."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60.0) -> None:
        """Use a running engine, or start dockerd as the notes in docs/DOCKER.md describe."""
        if engine_answers():
            return
        dockerd = shutil.which("dockerd")
        if dockerd is None or shutil.which("docker") is None:
            raise EngineUnavailable("dockerd or docker is not installed (bash .ci/setup --test installs them)")
        if os.geteuid() != 0:
            raise EngineUnavailable("dockerd needs root here and no engine is running")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [dockerd, "--bridge=none", "--iptables=false", "--ip6tables=false"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while not engine_answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise EngineUnavailable(f"dockerd did not start:\n{tail}")
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop the dockerd this object started (by its process id)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses."""
    sources = sorted(Path("/etc/apt/sources.list.d").glob("*.sources")) + [Path("/etc/apt/sources.list")]
    for path in sources:
        if path.exists():
            text = path.read_text()
            match = re.search(r"^URIs:\s*(\S+/debian)/?\s*$", text, re.MULTILINE) or re.search(
                r"^deb\s+(?:\[[^]]*\]\s+)?(\S+/debian)/?\s+bookworm", text, re.MULTILINE
            )
            if match:
                return match.group(1)
    return "http://deb.debian.org/debian"


def import_base_image() -> None:
    """Import the Debian bookworm base image, debootstrapping it once into the cache."""
    if run(["docker", "image", "inspect", BASE_IMAGE], check=False).returncode == 0:
        return  # kept from an earlier run (WAVEPOOL_DOCKER_KEEP_IMAGES=1): its layers are still cached
    tarball = CACHE / "bookworm-minbase.tar"
    if not tarball.exists():
        if shutil.which("debootstrap") is None:
            raise AssertionError("debootstrap is not installed (bash .ci/setup --test installs it)")
        CACHE.mkdir(parents=True, exist_ok=True)
        rootfs = CACHE / "rootfs"
        shutil.rmtree(rootfs, ignore_errors=True)
        run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), debian_mirror()], timeout=900)
        partial = tarball.with_suffix(".tar.part")
        with partial.open("wb") as out:
            subprocess.run(["tar", "-C", str(rootfs), "-c", "."], stdout=out, check=True, timeout=600)
        partial.rename(tarball)
        shutil.rmtree(rootfs, ignore_errors=True)
    run(["docker", "import", str(tarball), BASE_IMAGE], timeout=600)


def copy_extra_ca(folder: Path) -> list[Path]:
    """Put this machine's extra CA certificates in a git-ignored build-context folder."""
    copied = []
    for cert in sorted(EXTRA_CA.glob("*.crt")) if EXTRA_CA.is_dir() else []:
        target = folder / cert.name
        shutil.copyfile(cert, target)
        copied.append(target)
    return copied


def build(tag: str, context: Path, dockerfile: Path, log_path: Path, **build_args: str) -> subprocess.Popen[bytes]:
    """Start `docker build` on the local base with host networking; returns the process."""
    args = [
        "docker",
        "build",
        "--network",
        "host",
        "--build-arg",
        f"BASE_IMAGE={BASE_IMAGE}",
        "-f",
        str(dockerfile),
        "-t",
        tag,
    ]
    for name, value in build_args.items():
        args += ["--build-arg", f"{name}={value}"]
    with log_path.open("wb") as log:
        return subprocess.Popen([*args, str(context)], stdout=log, stderr=subprocess.STDOUT)


def wait_builds(builds: dict[str, tuple[subprocess.Popen[bytes], Path]], timeout_s: float) -> None:
    """Wait for every build; raise with the log tail of one that failed."""
    deadline = time.monotonic() + timeout_s
    for tag, (process, log_path) in builds.items():
        try:
            code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
            code = -1
        if code != 0:
            tail = log_path.read_text(errors="replace")[-4000:]
            raise AssertionError(f"docker build of {tag} failed ({code}):\n{tail}")
