"""aiohttp server on the configured host/port: the public pages and feeds, /healthz, /metrics, /blobs/<cid>."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from bots.web.blobs import BlobHandler
from bots.web.metrics import CONTENT_TYPE, VerdictCounts, WebMetrics
from bots.web.pages import PageHandlers
from core.app import App
from core.views.pages import WebPages

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# One script, same-origin only (/static/play.js: the player's play report); no inline script, so
# a title that slipped past escaping still could not run. Member uploads are served from /blobs
# with their audio type and nosniff, so a browser refuses to run one as a script.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; media-src 'self';"
    " img-src 'self'; form-action 'self'; base-uri 'none'"
)


class WebServer:
    """Health, metrics and the blob endpoint; the public site when ``pages`` is given."""

    def __init__(
        self,
        app: App,
        parts: Callable[[], Mapping[str, str]] | None = None,
        pages: WebPages | None = None,
        public_url: str | None = None,
        verdicts: VerdictCounts | None = None,
        page_cache_s: float = 5.0,
    ) -> None:
        self._app = app
        self._parts = parts
        self._started = time.monotonic()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self.metrics_registry = WebMetrics(app, parts, verdicts)
        self.app = web.Application(middlewares=[self._timed, self._hardened])
        self.app.router.add_get("/healthz", self.healthz)
        self.app.router.add_get("/metrics", self.metrics)
        self.app.router.add_get("/blobs/{cid}", BlobHandler(app))
        if pages is not None:
            PageHandlers(pages, public_url, app.events, page_cache_s).add_routes(self.app.router)

    @web.middleware
    async def _timed(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Observe each request's latency under its route pattern (not its path: bounded labels)."""
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as err:
            status = err.status
            raise
        finally:
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else "unmatched"
            self.metrics_registry.latency.labels(route, str(status)).observe(time.perf_counter() - started)

    @web.middleware
    async def _hardened(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """No content sniffing anywhere; pages may load nothing but this site's stylesheet and audio."""
        response = await handler(request)
        if not response.prepared:  # streamed blobs set their own headers before sending
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            if (response.content_type or "").startswith("text/html"):
                response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
                response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        return response

    async def start(self, host: str, port: int) -> None:
        """Listen on host:port (port 0 picks a free one, kept in ``self.port``)."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        log.info("HTTP server on http://%s:%s (GET / for the site, /healthz for health)", host, self.port)

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
        """Prometheus text format, from prometheus_client."""
        body = await self.metrics_registry.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
