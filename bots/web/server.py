"""aiohttp server on the configured host/port: /healthz, /metrics, /blobs/<cid>."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from aiohttp import web

from core.app import App
from core.cid import parse_cid
from core.errors import IntegrityError, UsageError
from core.model import Cid
from core.visibility import is_public

log = logging.getLogger(__name__)


class WebServer:
    """Health and metrics endpoints, plus the blob endpoint peers may fetch from."""

    def __init__(self, app: App, parts: Callable[[], Mapping[str, str]] | None = None) -> None:
        self._app = app
        self._parts = parts
        self._started = time.monotonic()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self.app = web.Application()
        self.app.router.add_get("/healthz", self.healthz)
        self.app.router.add_get("/metrics", self.metrics)
        self.app.router.add_get("/blobs/{cid}", self.blob)

    async def start(self, host: str, port: int) -> None:
        """Listen on host:port (port 0 picks a free one, kept in ``self.port``)."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        log.info("HTTP server on http://%s:%s (GET /healthz)", host, self.port)

    async def stop(self) -> None:
        """Close the listener."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def healthz(self, request: web.Request) -> web.Response:
        """200 when storage answers (``degraded`` with each part's reason when one is not ok); 503 otherwise."""
        app = self._app
        try:
            tracks = await app.tracks.count()
        except Exception as err:  # health must report, not raise
            log.warning("health check failed: %s", err)
            return web.json_response({"status": "error", "error": str(err)}, status=503)
        parts = dict(self._parts()) if self._parts is not None else {}
        return web.json_response(
            {
                "status": "ok" if all(state == "ok" for state in parts.values()) else "degraded",
                "parts": parts,
                "instance": app.instance,
                "name": app.instance_name,
                "tracks": tracks,
                "uptime_s": round(time.monotonic() - self._started, 1),
            }
        )

    async def metrics(self, request: web.Request) -> web.Response:
        """Prometheus text format."""
        app = self._app
        lines = [
            "# HELP wavepool_tracks Tracks in the local pool.",
            "# TYPE wavepool_tracks gauge",
            f"wavepool_tracks {await app.tracks.count()}",
            "# HELP wavepool_pool_bytes Bytes stored in the blob pool.",
            "# TYPE wavepool_pool_bytes gauge",
            f"wavepool_pool_bytes {await app.pool.total_bytes()}",
            "# HELP wavepool_uptime_seconds Seconds since the server started.",
            "# TYPE wavepool_uptime_seconds counter",
            f"wavepool_uptime_seconds {time.monotonic() - self._started:.1f}",
            "# HELP wavepool_ingest_stage_seconds_total Seconds spent per ingest stage.",
            "# TYPE wavepool_ingest_stage_seconds_total counter",
        ]
        for stage, seconds in app.ingest.stage_seconds.items():
            lines.append(f'wavepool_ingest_stage_seconds_total{{stage="{stage}"}} {seconds:.4f}')
        lines += [
            "# HELP wavepool_ingest_stage_runs_total Runs per ingest stage.",
            "# TYPE wavepool_ingest_stage_runs_total counter",
        ]
        for stage, count in app.ingest.stage_counts.items():
            lines.append(f'wavepool_ingest_stage_runs_total{{stage="{stage}"}} {count}')
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")

    async def blob(self, request: web.Request) -> web.StreamResponse:
        """Serve a blob, verified while it streams."""
        try:
            cid = parse_cid(request.match_info["cid"])
        except UsageError as err:
            raise web.HTTPBadRequest(text=str(err)) from None
        pool = self._app.pool
        size = await pool.size_of(cid)
        if size is None or not await self._servable(cid):
            raise web.HTTPNotFound(text="no such blob")
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)})
        await response.prepare(request)
        try:
            async for chunk in pool.stream(cid):
                await response.write(chunk)
        except IntegrityError:
            log.error("blob %s is corrupt; stopped serving it mid-stream", cid)
            raise
        await response.write_eof()
        return response

    async def _servable(self, cid: str) -> bool:
        tracks = await self._app.tracks.find_by_cid(Cid(cid))
        return any(is_public(t) for t in tracks)  # never a track waiting for review
