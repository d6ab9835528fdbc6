"""``SafeLinkFetcher``: the ``LinkFetcher`` port, from a shared URL to local audio bytes.

Routing:

1. Every URL is checked by the address guard first (scheme, syntax, addresses).
2. Generator song pages (Suno pages and ``/s/`` short links, Udio pages) go to the
   Wavepool plugin extractor of that generator; the song's audio URL (or og:audio) is
   then streamed by ``SafeHttp``. The page is the generator's own, so the audio is what
   the generator serves for that song (``site == generator``: the confirmation itself).
3. URLs that one of yt-dlp's own site extractors claims (YouTube, SoundCloud, Bandcamp
   ...) go to yt-dlp; the chosen audio-only format is streamed by ``SafeHttp``.
4. Anything else is fetched directly: audio bytes are streamed to a temp file; an HTML
   page is searched for og:audio or an ``<audio>`` source, which is then downloaded;
   failing that, yt-dlp's generic extractor gets a try.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import FetchError, PageGoneError, PageWithoutAudioError
from core.model import PageInfo
from core.ports import FetchedLink
from storage.links.address_guard import AddressGuard, LinkPolicy, Resolver
from storage.links.page_parse import parse_page
from storage.links.safe_http import Downloaded, Page, SafeHttp

if TYPE_CHECKING:
    from storage.links.ytdlp_fetch import YtdlpFetcher


@functools.lru_cache(maxsize=256)
def media_site(url: str) -> str | None:
    """The key of a yt-dlp site extractor (not the generic one) that claims ``url``."""
    from yt_dlp.extractor import gen_extractor_classes

    for ie in gen_extractor_classes():
        key = ie.ie_key()
        if key == "Generic":
            continue
        if ie.suitable(url) and ie.working():
            return str(key)
    return None


def _tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(t.strip() for t in value.split(",") if t.strip())
    if isinstance(value, Sequence):
        return tuple(str(v) for v in value if v)
    return ()


def _opt(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


@functools.cache
def generator_extractors() -> dict[str, type[Any]]:
    """generator -> its Wavepool plugin extractor (yt-dlp is imported here, on first use:
    it costs about a second, which start-up should not pay)."""
    from storage.links.yt_dlp_plugins.extractor.wavepool_suno import WavepoolSunoIE
    from storage.links.yt_dlp_plugins.extractor.wavepool_udio import WavepoolUdioIE

    return {"suno": WavepoolSunoIE, "udio": WavepoolUdioIE}


def generator_of(url: str) -> str | None:
    """The generator whose song page ``url`` is, when a plugin extractor claims it."""
    for generator, extractor in generator_extractors().items():
        if extractor.suitable(url):
            return generator
    return None


class SafeLinkFetcher:
    """Resolves shared links to audio safely (see the module docstring for the routing).

    ``settings`` is the ``[links]`` table (``config.settings.LinkSettings``). ``resolver``
    replaces DNS; ``host_map`` pins host names to addresses (``{"suno.com": "127.0.0.1"}``)
    -- both for tests and for operators with special DNS needs. Addresses obtained either
    way still pass the guard.
    """

    def __init__(
        self,
        settings: LinkPolicy,
        resolver: Resolver | None = None,
        host_map: Mapping[str, str] | None = None,
    ) -> None:
        self._settings = settings
        self._guard = AddressGuard(settings, resolver=resolver, host_map=host_map)
        self._http = SafeHttp(settings, self._guard)
        self._ytdlp_fetcher: YtdlpFetcher | None = None

    @property
    def _ytdlp(self) -> YtdlpFetcher:
        """yt-dlp, built on the first link that needs it."""
        if self._ytdlp_fetcher is None:
            from storage.links.ytdlp_fetch import YtdlpFetcher

            self._ytdlp_fetcher = YtdlpFetcher(self._settings, self._guard, self._http)
        return self._ytdlp_fetcher

    @property
    def guard(self) -> AddressGuard:
        """The address guard (for callers that want to pre-check a URL)."""
        return self._guard

    async def fetch(self, url: str, dest_dir: Path, max_bytes: int) -> FetchedLink:
        """Download the audio behind ``url``; UnsafeUrlError, FetchError, TooLargeError."""
        parsed = await self._guard.check_url(url)
        generator = generator_of(parsed.url)
        if generator is not None:
            return await self._fetch_generator(generator, url, parsed.url, dest_dir, max_bytes)
        site = await asyncio.to_thread(media_site, parsed.url)
        if site is not None:
            return await self._fetch_media(url, parsed.url, dest_dir, max_bytes)
        result = await self._http.fetch(parsed.url, dest_dir, max_bytes, accept_page=True)
        if isinstance(result, Downloaded):
            page = PageInfo(url=url, canonical_url=result.final_url, site="direct", audio_url=result.final_url)
            return FetchedLink(result.path, result.size, page, result.content_type)
        generator = generator_of(result.final_url)
        if generator is not None:  # a redirect landed on a generator's song page
            return await self._fetch_generator(generator, url, result.final_url, dest_dir, max_bytes)
        return await self._fetch_page(url, result, dest_dir, max_bytes)

    async def _fetch_generator(
        self, generator: str, shared: str, url: str, dest_dir: Path, max_bytes: int
    ) -> FetchedLink:
        info = await self._ytdlp.extract(url, max_bytes, plugin=generator_extractors()[generator])
        facts: dict[str, Any] = info.get("wavepool_page") or {}
        audio_url = _opt(facts.get("audio_url")) or _opt(info.get("url"))
        if audio_url is None:
            raise PageWithoutAudioError("That link is a page without audio.")
        downloaded = await self._http.download(audio_url, dest_dir, max_bytes)
        page = PageInfo(
            url=shared,
            canonical_url=_opt(facts.get("canonical_url")),
            site=generator,
            generator=generator,
            song_id=_opt(facts.get("song_id")),
            title=_opt(facts.get("title")),
            creator=_opt(facts.get("creator")),
            style=_opt(facts.get("style")),
            tags=_tuple(facts.get("tags")),
            prompt=_opt(facts.get("prompt")),
            lyrics=_opt(facts.get("lyrics")),
            model=_opt(facts.get("model")),
            image_url=_opt(facts.get("image_url")),
            audio_url=audio_url,
        )
        return FetchedLink(downloaded.path, downloaded.size, page, downloaded.content_type)

    async def _fetch_media(self, shared: str, url: str, dest_dir: Path, max_bytes: int) -> FetchedLink:
        downloaded, info = await self._ytdlp.fetch(url, dest_dir, max_bytes)
        site = str(info.get("extractor_key") or info.get("extractor") or "media").lower()
        page = PageInfo(
            url=shared,
            canonical_url=_opt(info.get("webpage_url")) or url,
            site=site,
            song_id=_opt(str(info["id"])) if info.get("id") else None,
            title=_opt(info.get("track")) or _opt(info.get("title")),
            creator=_opt(info.get("uploader_id")) or _opt(info.get("uploader")) or _opt(info.get("channel")),
            style=_opt(info.get("genre")),
            tags=_tuple(info.get("tags")),
            prompt=None,
            lyrics=None,
            image_url=_opt(info.get("thumbnail")),
            audio_url=downloaded.final_url,
        )
        return FetchedLink(downloaded.path, downloaded.size, page, downloaded.content_type)

    async def _fetch_page(self, shared: str, result: Page, dest_dir: Path, max_bytes: int) -> FetchedLink:
        if result.status >= 400:
            if result.status in (404, 410):
                raise PageGoneError("That page was not found (it may have been removed).")
            if result.status in (401, 403):
                raise PageGoneError("That page is private (the site refused access).")
            raise FetchError(f"The site answered with an error ({result.status}).")
        facts = parse_page(result.text, result.final_url)
        audio_url = facts.og_audio or (facts.audio_sources[0] if facts.audio_sources else None)
        if audio_url is None:
            try:
                return await self._fetch_media(shared, result.final_url, dest_dir, max_bytes)
            except FetchError as exc:
                if str(exc).startswith("Unsupported site"):
                    raise FetchError("That link is a page without audio.") from exc
                raise
        downloaded = await self._http.download(audio_url, dest_dir, max_bytes)
        page = PageInfo(
            url=shared,
            canonical_url=facts.meta.get("og:url") or facts.canonical or result.final_url,
            site="generic",
            title=facts.meta.get("og:title") or facts.title,
            creator=facts.meta.get("music:musician") or facts.meta.get("author") or None,
            image_url=facts.meta.get("og:image"),
            audio_url=downloaded.final_url,
        )
        return FetchedLink(downloaded.path, downloaded.size, page, downloaded.content_type)
