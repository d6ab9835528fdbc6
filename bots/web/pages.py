"""The public pages and feeds: thin aiohttp handlers over ``core.views.pages.WebPages``.

Templates are Jinja2 with autoescape always on, so every text a member wrote (titles,
prompts, names, lyrics) is shown as text. Absolute links (OpenGraph, feeds) use
``[http] public_url`` when set, else the address the request came to.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader
from yarl import URL

from bots.web.cover import cover_png
from bots.web.feeds import FEED_TRACKS, digest_podcast, tracks_atom
from bots.web.page_cache import PageCache
from core.errors import NotFoundError
from core.events.ports import EventLog
from core.services.web_plays import PlayOutcome
from core.views.pages import WebPages

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
PAGE_CACHE = "public, max-age=60"  # pages change as tracks arrive; a minute of staleness is fine
FEED_CACHE = "public, max-age=300"
DIGESTS_IN_PODCAST = 26  # half a year of weeks

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Site:
    """What every template knows about the site."""

    base: str
    community: str
    instance_name: str


def duration(seconds: float) -> str:
    """``m:ss`` (a filter, not a macro: macro calls cost a list of 50 tracks milliseconds)."""
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def template_environment() -> Environment:
    """The Jinja2 environment of ``bots/web/templates`` (autoescape on for everything)."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["duration"] = duration
    return env


class PageHandlers:
    """One handler per route; each gathers a page through ``WebPages`` and renders it."""

    def __init__(
        self, pages: WebPages, public_url: str | None = None, events: EventLog | None = None, cache_s: float = 5.0
    ) -> None:
        self._pages = pages
        self._public_url = public_url.rstrip("/") if public_url else None
        self._env = template_environment()
        self._events = events
        self._cache = PageCache(ttl=cache_s) if events is not None and cache_s > 0 else None

    def _cached(self, handler: Handler) -> Handler:
        """The handler behind the page cache (when there is an outbox to tell changes by)."""
        cache, events = self._cache, self._events
        if cache is None or events is None:
            return handler

        async def cached(request: web.Request) -> web.StreamResponse:
            key = self.base(request) + request.path_qs
            seq = await events.last_seq()
            hit = cache.get(key, seq)
            if hit is not None:
                cache_control = FEED_CACHE if key.endswith((".xml", ".atom")) else PAGE_CACHE
                return web.Response(
                    body=hit.body, headers={"Content-Type": hit.content_type, "Cache-Control": cache_control}
                )
            response = await handler(request)
            if response.status == 200 and isinstance(response, web.Response) and isinstance(response.body, bytes):
                cache.put(key, seq, response.body, response.headers["Content-Type"])
            return response

        return cached

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Register the pages, the feeds and the stylesheet."""
        router.add_get("/", self._cached(self.home))
        router.add_get("/tracks/{id}", self._cached(self.track))
        router.add_post("/tracks/{id}/play", self.play)
        router.add_get("/genres/{name}", self._cached(self.genre))
        router.add_get("/rounds/{id}", self._cached(self.round))
        router.add_get("/digests", self.digests)
        router.add_get("/digests/{week}", self._cached(self.digest))
        router.add_get("/prompts", self._cached(self.prompts))
        router.add_get("/search", self._cached(self.search))
        router.add_get("/feeds/digest.xml", self._cached(self.digest_feed))
        router.add_get("/feeds/tracks.atom", self._cached(self.tracks_feed))
        router.add_get("/feeds/genres/{name}.atom", self._cached(self.genre_feed))
        router.add_get("/cover.png", self.cover)
        router.add_static("/static", HERE / "static", append_version=False)

    def base(self, request: web.Request) -> str:
        """The site's absolute address."""
        return self._public_url or f"{request.scheme}://{request.host}"

    def _render(self, request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
        site = Site(self.base(request), self._pages.community, self._pages.instance_name)
        html = self._env.get_template(template).render(site=site, path=request.path_qs, **values)
        headers = {"Cache-Control": PAGE_CACHE} if status == 200 else {"Cache-Control": "no-store"}
        return web.Response(text=html, content_type="text/html", charset="utf-8", status=status, headers=headers)

    def _not_found(self, request: web.Request, err: NotFoundError) -> web.Response:
        return self._render(request, "not_found.html", status=404, message=str(err))

    async def cover(self, request: web.Request) -> web.Response:
        """``/cover.png``: the podcast's artwork and the pages' link-preview image."""
        body = await asyncio.to_thread(cover_png)  # drawn once (cached), off the event loop
        return web.Response(body=body, content_type="image/png", headers={"Cache-Control": "public, max-age=86400"})

    async def home(self, request: web.Request) -> web.Response:
        """``/``."""
        return self._render(request, "home.html", page=await self._pages.home())

    async def track(self, request: web.Request) -> web.Response:
        """``/tracks/<id>``."""
        try:
            page = await self._pages.track(request.match_info["id"])
        except NotFoundError as err:
            return self._not_found(request, err)
        return self._render(request, "track.html", page=page)

    async def play(self, request: web.Request) -> web.Response:
        """``POST /tracks/<id>/play``: the player heard the track for a while (same-origin only).

        204 whether counted or a repeat (a client learns nothing from it), 429 over the address's
        hourly limit, 403 from another site, 404 for a track that is not public."""
        origin = request.headers.get("Origin")
        if origin is not None and origin.rstrip("/") not in {self.base(request), f"{request.scheme}://{request.host}"}:
            return web.Response(status=403, text="plays are reported by this site's own pages")
        try:
            outcome = await self._pages.report_play(request.match_info["id"], request.remote or "unknown")
        except NotFoundError as err:
            return web.Response(status=404, text=str(err))
        if outcome is PlayOutcome.LIMITED:
            return web.Response(status=429, text="too many plays from this address", headers={"Retry-After": "3600"})
        return web.Response(status=204, headers={"Cache-Control": "no-store"})

    async def genre(self, request: web.Request) -> web.Response:
        """``/genres/<name>``."""
        try:
            page = await self._pages.genre(request.match_info["name"])
        except NotFoundError as err:
            return self._not_found(request, err)
        return self._render(request, "genre.html", page=page)

    async def round(self, request: web.Request) -> web.Response:
        """``/rounds/<id>``."""
        try:
            page = await self._pages.round(request.match_info["id"])
        except NotFoundError as err:
            return self._not_found(request, err)
        return self._render(request, "round.html", page=page)

    async def digests(self, request: web.Request) -> web.StreamResponse:
        """``/digests``: the newest digest's page (which lists every past one)."""
        latest = await self._pages.latest_digest()
        if latest is None:
            return self._not_found(request, NotFoundError("no digest has been published yet"))
        raise web.HTTPFound(f"/digests/{latest.week}")

    async def digest(self, request: web.Request) -> web.Response:
        """``/digests/<week>``."""
        try:
            page = await self._pages.digest(request.match_info["week"])
        except NotFoundError as err:
            return self._not_found(request, err)
        return self._render(request, "digest.html", page=page)

    async def prompts(self, request: web.Request) -> web.Response:
        """``/prompts?q=``."""
        return self._render(request, "prompts.html", page=await self._pages.prompts(request.query.get("q", "")))

    async def search(self, request: web.Request) -> web.Response:
        """``/search?q=``."""
        query = request.query.get("q", "")
        return self._render(request, "search.html", page=await self._pages.search(query), query_tracks=query)

    async def digest_feed(self, request: web.Request) -> web.Response:
        """``/feeds/digest.xml``: the podcast."""
        summaries = [await self._pages.with_top(d) for d in (await self._pages.digests())[:DIGESTS_IN_PODCAST]]
        body = digest_podcast(self.base(request), self._pages.community, summaries)
        return _feed(body, "application/rss+xml")

    async def tracks_feed(self, request: web.Request) -> web.Response:
        """``/feeds/tracks.atom``."""
        tracks = await self._pages.feed_tracks(FEED_TRACKS)
        title = f"{self._pages.community} — new tracks"
        return _feed(tracks_atom(self.base(request), title, "/feeds/tracks.atom", "/", tracks), "application/atom+xml")

    async def genre_feed(self, request: web.Request) -> web.Response:
        """``/feeds/genres/<name>.atom``."""
        try:
            page = await self._pages.genre(request.match_info["name"], limit=FEED_TRACKS)
        except NotFoundError as err:
            raise web.HTTPNotFound(text=str(err)) from None
        quoted = URL.build(path=f"/genres/{page.name}").raw_path
        title = f"{self._pages.community} — {page.name}"
        body = tracks_atom(self.base(request), title, f"/feeds{quoted}.atom", quoted, page.tracks)
        return _feed(body, "application/atom+xml")


def _feed(body: bytes, media_type: str) -> web.Response:
    return web.Response(body=body, content_type=media_type, charset="utf-8", headers={"Cache-Control": FEED_CACHE})
