"""Media pages through yt-dlp's Python API, with every yt-dlp request guarded.

How yt-dlp is kept inside the guard
-----------------------------------
``_GuardedYoutubeDL`` replaces yt-dlp's request handlers with a single one,
``WavepoolGuardedRH`` (a subclass of yt-dlp's urllib handler) that:

* accepts only ``http`` and ``https`` (``file:``, ``ftp:``, ``data:`` are unsupported),
  uses no proxy, and follows at most ``max_redirects`` redirects;
* opens every TCP connection -- first request and each redirect hop alike -- through
  :func:`_guarded_connection`, which resolves the host with the same
  :class:`AddressGuard` (run on the event loop, so the resolver hook and ``host_map``
  apply) and connects only to an address the guard allowed. The address checked is the
  address connected to, so there is no DNS-rebinding window, and a refused address is
  refused before a byte is sent.

Only extraction (pages and APIs) runs inside yt-dlp. The chosen audio-only format is then
downloaded by :class:`~storage.links.safe_http.SafeHttp` with the size cap enforced while
reading; only plain ``http``/``https`` formats are accepted, so no ffmpeg or external
downloader ever fetches anything on its own (HLS/DASH-only pages are refused for now).
yt-dlp runs in a worker thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import asyncio
import functools
import http.client
import logging
import socket
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from yt_dlp import YoutubeDL
from yt_dlp.extractor.common import InfoExtractor
from yt_dlp.networking._urllib import HTTPHandler, RedirectHandler, UrllibRH
from yt_dlp.utils import DownloadError, ExtractorError, UnsupportedError

from core.errors import (
    FetchError,
    PageGoneError,
    PageWithoutAudioError,
    TooLargeError,
    UnsafeUrlError,
)
from storage.links.address_guard import AddressGuard, LinkPolicy
from storage.links.safe_http import Downloaded, SafeHttp
from storage.links.yt_dlp_plugins.extractor.wavepool_pages import PAGE_WITHOUT_AUDIO, PRIVATE_OR_REMOVED
from storage.links.yt_dlp_plugins.extractor.wavepool_suno import WavepoolSunoIE

log = logging.getLogger(__name__)

AUDIO_FORMAT = (
    "bestaudio[protocol=https]/bestaudio[protocol=http]"
    "/best[vcodec=none][protocol=https]/best[vcodec=none][protocol=http]"
)
Connect = Callable[..., socket.socket]


class GuardRefused(OSError):
    """Raised inside yt-dlp's connection code when the guard refuses an address."""


class _Tripwire:
    """Remembers the first refusal the guard made during one yt-dlp run."""

    def __init__(self) -> None:
        self.refusal: BaseException | None = None
        self._lock = threading.Lock()

    def record(self, exc: BaseException) -> None:
        with self._lock:
            if self.refusal is None:
                self.refusal = exc


def _guarded_connection(
    guard: AddressGuard,
    loop: asyncio.AbstractEventLoop,
    tripwire: _Tripwire,
    timeout_s: float,
    address: tuple[str, int],
    timeout: Any = None,
    source_address: Any = None,
    **_: Any,
) -> socket.socket:
    """``socket.create_connection`` that only connects to addresses the guard allowed."""
    host, port = address
    future = asyncio.run_coroutine_threadsafe(guard.resolve_allowed(host, port), loop)
    try:
        addresses = future.result(timeout=timeout_s + 5)
    except (UnsafeUrlError, FetchError) as exc:
        tripwire.record(exc)
        raise GuardRefused(str(exc)) from exc
    last: OSError | None = None
    connect_timeout = timeout if isinstance(timeout, (int, float)) else timeout_s
    for ip in addresses:
        try:
            return socket.create_connection((ip, port), timeout=connect_timeout)
        except OSError as exc:
            last = exc
    raise last or OSError(f"could not connect to {host}")


def _make_connection(
    connect: Connect, conn_class: type[http.client.HTTPConnection], *args: Any, **kwargs: Any
) -> http.client.HTTPConnection:
    connection = conn_class(*args, **kwargs)
    connection._create_connection = connect  # type: ignore[attr-defined]
    return connection


class _GuardedHTTPHandler(HTTPHandler):  # type: ignore[misc]
    """yt-dlp's urllib HTTP handler with every connection made by the guard."""

    def __init__(self, connect: Connect, context: Any = None) -> None:
        super().__init__(context=context)
        self._connect = connect

    def http_open(self, req: urllib.request.Request) -> Any:
        if req.headers.pop("Ytdl-socks-proxy", None):
            raise GuardRefused("proxies are not used for links")
        return self.do_open(functools.partial(_make_connection, self._connect, http.client.HTTPConnection), req)

    def https_open(self, req: urllib.request.Request) -> Any:
        if req.headers.pop("Ytdl-socks-proxy", None):
            raise GuardRefused("proxies are not used for links")
        return self.do_open(
            functools.partial(_make_connection, self._connect, http.client.HTTPSConnection),
            req,
            context=self._context,
        )


def _guarded_rh(connect: Connect, max_redirects: int) -> type:
    """A yt-dlp request handler class bound to one guarded ``connect`` function."""

    class _LimitedRedirects(RedirectHandler):  # type: ignore[misc]
        max_redirections = max_redirects

    class WavepoolGuardedRH(UrllibRH):  # type: ignore[misc]
        """Only http(s), no proxies, connections through the address guard."""

        _SUPPORTED_URL_SCHEMES = ("http", "https")
        _SUPPORTED_PROXY_SCHEMES = ()
        RH_NAME = "wavepool-guarded"

        def _create_instance(self, proxies: Any, cookiejar: Any, legacy_ssl_support: Any = None) -> Any:
            opener = urllib.request.OpenerDirector()
            for handler in (
                _GuardedHTTPHandler(connect, context=self._make_sslcontext(legacy_ssl_support=legacy_ssl_support)),
                urllib.request.HTTPCookieProcessor(cookiejar),
                urllib.request.UnknownHandler(),
                urllib.request.HTTPDefaultErrorHandler(),
                urllib.request.HTTPErrorProcessor(),
                _LimitedRedirects(),
            ):
                opener.add_handler(handler)
            opener.addheaders = []
            return opener

    return WavepoolGuardedRH


class _GuardedYoutubeDL(YoutubeDL):  # type: ignore[misc]
    """A YoutubeDL whose only request handler is the guarded one."""

    def __init__(self, params: dict[str, Any], handler: type, auto_init: bool = True) -> None:
        self._wavepool_handler = handler
        super().__init__(params, auto_init=auto_init)

    def build_request_director(self, handlers: Any, preferences: Any = None) -> Any:
        return super().build_request_director([self._wavepool_handler], None)


class _YtdlpLogger:
    """Sends yt-dlp's output to logging instead of the terminal."""

    def debug(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def info(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def warning(self, msg: str) -> None:
        log.info("yt-dlp: %s", msg)

    def error(self, msg: str) -> None:
        log.info("yt-dlp: %s", msg)


def map_error(exc: BaseException, tripwire: _Tripwire) -> Exception:
    """Turn a yt-dlp failure into the member-facing error it stands for."""
    if tripwire.refusal is not None:
        refusal = tripwire.refusal
        if isinstance(refusal, (UnsafeUrlError, FetchError)):
            return refusal
    cause: BaseException | None = exc
    for _ in range(10):  # walk DownloadError.exc_info and __cause__ links, bounded
        if cause is None:
            break
        if isinstance(cause, UnsupportedError):
            return FetchError("Unsupported site: no audio could be found at that link.")
        if isinstance(cause, DownloadError):
            cause = (getattr(cause, "exc_info", None) or (None, None))[1]
        else:
            cause = cause.__cause__
    text = str(exc)
    lowered = text.lower()
    if PRIVATE_OR_REMOVED in text:
        return PageGoneError("That song is private or was removed.")
    if PAGE_WITHOUT_AUDIO in text:
        return PageWithoutAudioError("That link is a page without audio.")
    if "unsupported url" in lowered:
        return FetchError("Unsupported site: no audio could be found at that link.")
    if "timed out" in lowered or "timeout" in lowered:
        return FetchError("Timed out while reading the page.")
    if "requested format is not available" in lowered:
        return FetchError("The page offers no audio we can download (no audio-only file).")
    if "private" in lowered or "sign in" in lowered or "login" in lowered:
        return FetchError("That media is private or needs a login.")
    if "http error 404" in lowered or "not found" in lowered:
        return PageGoneError("That page was not found (it may have been removed).")
    return FetchError("Could not read that page.")


class YtdlpFetcher:
    """Extracts media pages with yt-dlp and downloads the chosen audio safely."""

    def __init__(self, policy: LinkPolicy, guard: AddressGuard, http: SafeHttp) -> None:
        self._policy = policy
        self._guard = guard
        self._http = http

    def _params(self, max_bytes: int) -> dict[str, Any]:
        return {
            "format": AUDIO_FORMAT,
            "noplaylist": True,
            "max_filesize": max_bytes,
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "logger": _YtdlpLogger(),
            "socket_timeout": self._policy.read_timeout_s,
            "proxy": "",
            "skip_download": True,
            "cachedir": False,
            "call_home": False,
            "enable_file_urls": False,
            "extract_flat": False,
            "playlist_items": "1",
            "postprocessors": [],
        }

    async def extract(
        self, url: str, max_bytes: int, *, suno: bool = False, plugin: type[InfoExtractor] | None = None
    ) -> dict[str, Any]:
        """yt-dlp's info dict for ``url`` (format chosen); FetchError/UnsafeUrlError on failure.

        ``plugin`` (or ``suno=True`` for the Suno one) runs only that Wavepool plugin extractor.
        """
        if suno:
            plugin = WavepoolSunoIE
        await self._guard.check_url(url)
        loop = asyncio.get_running_loop()
        tripwire = _Tripwire()
        connect = functools.partial(_guarded_connection, self._guard, loop, tripwire, self._policy.connect_timeout_s)
        handler = _guarded_rh(connect, self._policy.max_redirects)
        params = self._params(max_bytes)

        def run() -> dict[str, Any]:
            with _GuardedYoutubeDL(params, handler, auto_init=plugin is None) as ydl:
                ie_key = None
                if plugin is not None:
                    ydl.add_info_extractor(plugin())
                    ie_key = plugin.ie_key()
                info = ydl.extract_info(url, download=False, ie_key=ie_key)
                return dict(ydl.sanitize_info(info)) if info else {}

        try:
            info = await asyncio.to_thread(run)
        except (DownloadError, ExtractorError) as exc:
            raise map_error(exc, tripwire) from exc
        if tripwire.refusal is not None and not info:
            raise map_error(tripwire.refusal, tripwire)
        if info.get("_type") == "playlist":
            entries = [e for e in info.get("entries") or [] if e]
            if not entries:
                raise FetchError("That link is a playlist with nothing we can download.")
            info = entries[0]
        return info

    async def fetch(self, url: str, dest_dir: Path, max_bytes: int) -> tuple[Downloaded, dict[str, Any]]:
        """Extract ``url`` with yt-dlp and stream its best audio-only format to ``dest_dir``."""
        info = await self.extract(url, max_bytes)
        media_url, headers = chosen_format(info)
        size = info.get("filesize") or info.get("filesize_approx")
        if isinstance(size, (int, float)) and size > max_bytes:
            raise TooLargeError(f"The audio is larger than the {max_bytes / 1048576:.1f} MB cap.")
        downloaded = await self._http.download(media_url, dest_dir, max_bytes, headers=headers)
        return downloaded, info


def chosen_format(info: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The URL and request headers of the format yt-dlp selected (http/https only)."""
    formats = info.get("requested_formats") or [info]
    chosen = formats[0]
    url = chosen.get("url") or info.get("url")
    protocol = str(chosen.get("protocol") or "https")
    if not url or protocol not in ("http", "https"):
        raise FetchError("The page offers no audio we can download (streaming-only formats).")
    headers = {str(k): str(v) for k, v in (chosen.get("http_headers") or {}).items()}
    headers.pop("Accept-Encoding", None)
    return str(url), headers
