"""The public web page at community size: p99 of the home, a track and a genre page.

    .venv/bin/python bench/web.py [--dir DIR] [--runs 500]

Uses bench/scale.py's cached 100,000-track instance (building it when missing: slow), copies
its database once to DIR/wavepool-web-v1/ and opens it there once (migrations, including the
web page's index, and the start-up near-duplicate backfill run on the copy, not on the
cache: minutes the first time), then starts the real server (``bots.web.site.web_server_for``)
on that copy in a child process; the pages only read it. The same server also serves static files of exactly the size of each page (aiohttp's
``FileResponse``), the baseline: what answering with that many bytes costs on this machine
in this run. The parent fetches every target in turn over one keep-alive connection
(sequential, so each sample is one request's latency) and prints p50/p99 per target and
the p99 ratio page/static. Goal: p99 < 50 ms for each page. The server's page cache (5 s,
dropped by any outbox event) is on as in production; ``--page-cache-s 0`` measures every
request gathered and rendered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scale import build, complete, data_dir  # noqa: E402
from bench.scale_measure import _percentiles  # noqa: E402

GENRE = "synthwave"
WAIT_S = 120.0  # the child opens a 2 GB database


PREPARED = "wavepool-web-v1"


async def _prepare(data: Path) -> None:
    from bots.runtime import open_instance
    from config import load_settings

    os.environ["WAVEPOOL_DATA_DIR"] = str(data)
    async with open_instance(load_settings(None)):
        pass


def prepared_copy(directory: Path) -> Path:
    """The scale build's database, migrated and backfilled once, for the web bench only."""
    data = data_dir(directory)
    if not complete(data):
        build(data)
    ready = directory / PREPARED
    if (ready / "ready").exists():
        return ready
    partial = directory / (PREPARED + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    began = time.perf_counter()
    shutil.copy2(data / "wavepool.sqlite3", partial / "wavepool.sqlite3")
    shutil.copy2(data / "instance_ed25519.pem", partial / "instance_ed25519.pem")
    asyncio.run(_prepare(partial))
    (partial / "ready").write_text("1")
    shutil.rmtree(ready, ignore_errors=True)
    partial.rename(ready)
    print(f"prepared {ready} in {time.perf_counter() - began:.0f} s", flush=True)
    return ready


async def _serve(data: Path, static: Path, port_file: Path, page_cache_s: float) -> None:
    from aiohttp import web

    from bots.runtime import open_instance
    from bots.web.site import web_server_for
    from config import load_settings

    os.environ["WAVEPOOL_DATA_DIR"] = str(data)
    async with open_instance(load_settings(None)) as instance:
        server = web_server_for(instance, page_cache_s=page_cache_s)

        async def static_file(request: web.Request) -> web.FileResponse:
            return web.FileResponse(static / request.match_info["name"])

        server.app.router.add_get("/bench-static/{name}", static_file)
        await server.start("127.0.0.1", 0)
        port_file.write_text(str(server.port))
        await asyncio.Event().wait()  # until the parent terminates the process


def _track_id(db: Path) -> str:
    """A public track with a prompt and a genre: the fullest kind of track page."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute(
            "SELECT id FROM tracks WHERE status = 'active' AND verdict IN ('verified', 'declared')"
            " AND prompt IS NOT NULL AND genre = ? ORDER BY first_seen_at DESC LIMIT 1",
            (GENRE,),
        ).fetchone()
    return str(row[0])


async def _measure(base: str, pages: dict[str, str], static: Path, runs: int) -> dict[str, Any]:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=1)) as http:
        targets: dict[str, str] = {}
        sizes: dict[str, int] = {}
        for name, path in pages.items():
            async with http.get(base + path) as response:
                body = await response.read()
                assert response.status == 200, (path, response.status)
            sizes[name] = len(body)
            (static / f"{name}.html").write_bytes(b"x" * len(body))
            targets[name] = path
            targets[f"{name} (static file)"] = f"/bench-static/{name}.html"
        samples: dict[str, list[float]] = {name: [] for name in targets}
        for _ in range(20):  # warm up: templates compiled, pages in SQLite's cache
            for path in targets.values():
                async with http.get(base + path) as response:
                    await response.read()
        for _ in range(runs):
            for name, path in targets.items():
                started = time.perf_counter()
                async with http.get(base + path) as response:
                    await response.read()
                samples[name].append(time.perf_counter() - started)
    out: dict[str, Any] = {}
    for name in pages:
        p50, p99 = _percentiles(samples[name])
        s50, s99 = _percentiles(samples[f"{name} (static file)"])
        out[name] = {
            "bytes": sizes[name],
            "p50_ms": round(p50, 2),
            "p99_ms": round(p99, 2),
            "static_p50_ms": round(s50, 2),
            "static_p99_ms": round(s99, 2),
            "p99_ratio": round(p99 / s99, 1) if s99 else None,
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--runs", type=int, default=500, help="requests of each target")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--static", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--page-cache-s", type=float, default=5.0, help="0 measures every page gathered and rendered")
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve, args.static, args.port_file, args.page_cache_s))
        return 0
    copy = prepared_copy(args.dir)
    with tempfile.TemporaryDirectory(dir=args.dir) as work_dir:
        work = Path(work_dir)
        static, port_file = work / "static", work / "port"
        static.mkdir()
        track = _track_id(copy / "wavepool.sqlite3")
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(copy), "--static", str(static), "--port-file", str(port_file)]
            + ["--page-cache-s", str(args.page_cache_s)],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            deadline = time.monotonic() + WAIT_S
            while not port_file.exists() or not port_file.read_text():
                if child.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)  # polling a file the child writes once it listens
            base = f"http://127.0.0.1:{port_file.read_text()}"
            pages = {"home": "/", "track page": f"/tracks/{track}", "genre page": f"/genres/{GENRE}"}
            results = asyncio.run(_measure(base, pages, static, args.runs))
        finally:
            child.terminate()
            child.wait(timeout=30)
    print(json.dumps(results, indent=2))
    worst = max(r["p99_ms"] for r in results.values())
    print(f"worst page p99 {worst:.1f} ms (goal < 50 ms): {'ok' if worst < 50 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
