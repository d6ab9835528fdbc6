"""Helpers of bench/scale.py: memory, the start-up measurement, imports, a share without analysis."""

from __future__ import annotations

import array
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.model import Fingerprint

ROOT = Path(__file__).resolve().parents[1]


def _env(data: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["WAVEPOOL_DATA_DIR"] = str(data)
    env.pop("WAVEPOOL_CONFIG", None)
    return env


def _percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds (nearest rank)."""
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(round(0.99 * len(ordered))) - 1)] * 1000


def _rss_mb(pid: int | str = "self") -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB."""
    fields = memory_mb(pid)
    return fields["VmRSS"], fields["VmHWM"]


def memory_mb(pid: int | str = "self") -> dict[str, float]:
    """VmRSS, VmHWM and RSS split into RssAnon (the process's own memory) and RssFile (pages of
    mapped files: SQLite's mmap of the database is the OS page cache, shared and reclaimable)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return fields


def _patch_analysis() -> None:
    """Share without audio analysis: the inspector answers at once (the pass is bench/ingest.py's)."""
    from core.model import AudioInfo, QualityReport
    from core.ports import TagInfo
    from storage.media.inspector import FfmpegMediaInspector

    async def probe(self: object, path: Path) -> AudioInfo:
        return AudioInfo("mp3", "mp3", "audio/mpeg", 120.0, 120.0, 44100, 2, 128000)

    async def tags(self: object, path: Path) -> TagInfo:
        return TagInfo(format="none", raw={})

    async def c2pa(self: object, path: Path, media_type: str) -> None:
        return None

    async def quality(self: object, path: Path) -> QualityReport:
        return QualityReport(-14.0, -1.0, 0.0, 0.0, 0.0, 0.3)

    async def fingerprint(self: object, path: Path) -> Fingerprint:
        return _fingerprint_of(path.read_bytes())

    for name, method in (
        ("probe", probe),
        ("tags", tags),
        ("c2pa", c2pa),
        ("quality", quality),
        ("fingerprint", fingerprint),
    ):
        setattr(FfmpegMediaInspector, name, method)


def _fingerprint_of(data: bytes) -> Fingerprint:
    from core.model import Fingerprint

    return Fingerprint(tuple(array.array("I", hashlib.shake_256(data).digest(4 * 955))), 120.0)


def random_fingerprint(seed: int) -> Fingerprint:
    """A 120 s fingerprint like the share's (a new sound: no stored track shares its bands)."""
    return _fingerprint_of(f"lookup {seed}".encode())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, timeout: float = 2) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bytes(response.read()) if response.status == 200 else None
    except OSError:
        return None


def startup(data: Path, work: Path) -> dict[str, float]:
    """``wavepool run`` on the built data: seconds to a healthy /healthz, RSS idle and after serving."""
    port = _free_port()
    config = work / "wavepool.toml"
    config.write_text(f'[instance]\ndata_dir = "{data}"\n[http]\nport = {port}\n')
    env = _env(data)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bots.cli", "--config", str(config), "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(work / "run.log").open("wb"),
    )
    try:
        deadline = started + 120
        while time.perf_counter() < deadline and _get(f"http://127.0.0.1:{port}/healthz") is None:
            if proc.poll() is not None:
                raise RuntimeError(f"wavepool run exited: {(work / 'run.log').read_text()[-2000:]}")
            time.sleep(0.01)
        healthy = time.perf_counter() - started
        # Start-up work behind the serving instance (the near-dup warm-up, the curation index
        # built from every vote, the prompts loaded for ranking): until the log says both are
        # done, how slow /healthz gets.
        slowest, log_path = 0.0, work / "run.log"
        warm_lines = ("curation index warmed", "prompts loaded into memory")
        while time.perf_counter() < started + 300 and not all(w in log_path.read_text() for w in warm_lines):
            asked = time.perf_counter()
            _get(f"http://127.0.0.1:{port}/healthz", timeout=60)
            slowest = max(slowest, time.perf_counter() - asked)
            time.sleep(0.2)
        warm = time.perf_counter() - started
        idle_at = time.perf_counter()
        while time.perf_counter() < idle_at + 5:  # idle: let the rest of the start-up work finish
            time.sleep(0.25)
        idle = _rss_mb(proc.pid)
        idle_split = memory_mb(proc.pid)
        for index in range(200):
            _get(f"http://127.0.0.1:{port}/healthz")
            if index % 20 == 0:
                _get(f"http://127.0.0.1:{port}/metrics")
                _get(f"http://127.0.0.1:{port}/")
        served = _rss_mb(proc.pid)
        served_split = memory_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return {
        "startup_s": round(healthy, 3),
        "warm_s": round(warm, 1),
        "slowest_health_during_warm_up_s": round(slowest, 2),
        "rss_idle_mb": round(idle[0], 1),
        "rss_served_mb": round(served[0], 1),
        "rss_peak_mb": round(served[1], 1),
        "idle_anon_mb": idle_split.get("RssAnon", 0.0),
        "idle_file_mb": idle_split.get("RssFile", 0.0),
        "served_anon_mb": served_split.get("RssAnon", 0.0),
        "served_file_mb": served_split.get("RssFile", 0.0),
    }


_IMPORTS = """
import sys, time, json
out = {}
for name in ("aiohttp", "aiosqlite", "core.app", "storage.sqlite.database", "storage.links.link_fetcher",
             "bots.runtime", "apscheduler", "bots.scheduler_part", "nio", "bots.matrix.part", "discord",
             "bots.discord.part", "bots.federation.part", "bots.cli.main"):
    started = time.perf_counter()
    __import__(name)
    out[name] = round(time.perf_counter() - started, 3)
print(json.dumps(out))
"""


def import_costs() -> dict[str, float]:
    """Seconds each group of modules adds to ``wavepool run``'s imports, in the order it meets them."""
    done = subprocess.run([sys.executable, "-c", _IMPORTS], capture_output=True, text=True, cwd=ROOT, check=True)
    costs: dict[str, float] = json.loads(done.stdout)
    return costs
