"""HTTP fetching that cannot be pointed at the inside of the network.

* :class:`GuardedResolver` is the aiohttp resolver: it resolves through the
  :class:`~storage.links.address_guard.AddressGuard` and returns only allowed addresses,
  so the address aiohttp connects to is exactly the one that was checked (no DNS
  rebinding window). IP literals, which aiohttp does not resolve, are checked on the URL
  before each request.
* Redirects are followed by hand (``allow_redirects=False``), each hop re-checked, at most
  ``max_redirects`` of them.
* Downloads are streamed into a temp file in ``dest_dir``; the size cap is enforced while
  reading (a lying Content-Length does not matter) and the file is deleted on any failure.
* The content type and the first bytes decide whether a body is audio or a page.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from core.errors import FetchError, NotAudioError, TooLargeError, UnsafeUrlError
from storage.links.address_guard import AddressGuard, LinkPolicy
from storage.links.sniff import is_page, looks_like_audio, media_type

USER_AGENT = "Mozilla/5.0 (compatible; Wavepool link fetcher)"
PAGE_LIMIT = 3 * 1024 * 1024  # the most of a web page we read
CHUNK = 64 * 1024
SNIFF_BYTES = 512
MIN_TOTAL_S = 300.0  # one request (headers and whole body) never takes longer than this
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})

_SUFFIXES = {
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/flac": ".flac",
    "audio/x-flac": ".flac",
    "audio/ogg": ".ogg",
    "application/ogg": ".ogg",
    "audio/opus": ".opus",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/wave": ".wav",
    "audio/mp4": ".m4a",
    "audio/x-m4a": ".m4a",
    "audio/aac": ".aac",
    "audio/webm": ".webm",
    "video/webm": ".webm",
}


@dataclass(frozen=True)
class Downloaded:
    """Audio written to a local temp file."""

    path: Path
    size: int
    content_type: str | None
    final_url: str


@dataclass(frozen=True)
class Page:
    """A web page read into memory (at most ``PAGE_LIMIT`` bytes)."""

    final_url: str
    status: int
    content_type: str | None
    text: str


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that only ever returns addresses the guard allows."""

    def __init__(self, guard: AddressGuard) -> None:
        self._guard = guard

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve ``host`` and drop every refused address (UnsafeUrlError if none is left)."""
        addresses = await self._guard.resolve_allowed(host, port)
        results: list[ResolveResult] = []
        for address in addresses:
            is_v6 = ":" in address
            if family == socket.AF_INET and is_v6 or family == socket.AF_INET6 and not is_v6:
                continue
            results.append(
                ResolveResult(
                    hostname=host,
                    host=address,
                    port=port,
                    family=socket.AF_INET6 if is_v6 else socket.AF_INET,
                    proto=0,
                    flags=socket.AI_NUMERICHOST,
                )
            )
        if not results:
            raise FetchError(f"Could not find a usable address for {host!r}.")
        return results

    async def close(self) -> None:
        """Nothing to release."""


def _suffix_for(content_type: str | None, head: bytes) -> str:
    kind = media_type(content_type)
    if kind in _SUFFIXES:
        return _SUFFIXES[kind]
    if head.startswith(b"fLaC"):
        return ".flac"
    if head.startswith(b"OggS"):
        return ".ogg"
    if head.startswith(b"RIFF"):
        return ".wav"
    if head[4:8] == b"ftyp":
        return ".m4a"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return ".webm"
    return ".mp3"


def _cap_text(max_bytes: int) -> str:
    return f"{max_bytes / (1024 * 1024):.1f} MB"


class SafeHttp:
    """Guarded HTTP GETs: pages into memory, audio into temp files."""

    def __init__(self, policy: LinkPolicy, guard: AddressGuard) -> None:
        self._policy = policy
        self._guard = guard

    @property
    def guard(self) -> AddressGuard:
        """The address guard every request goes through."""
        return self._guard

    def _session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(self._guard), use_dns_cache=False, limit=4)
        timeout = aiohttp.ClientTimeout(
            total=max(MIN_TOTAL_S, self._policy.read_timeout_s * 20),
            connect=self._policy.connect_timeout_s,
            sock_connect=self._policy.connect_timeout_s,
            sock_read=self._policy.read_timeout_s,
        )
        return aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
        )

    @contextlib.asynccontextmanager
    async def open(
        self, url: str, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[tuple[str, aiohttp.ClientResponse]]:
        """GET ``url`` following redirects by hand; yields ``(final_url, response)``.

        Every hop is checked by the guard before it is requested. Network failures become
        FetchError with a member-facing message.
        """
        async with self._session() as session:
            current = url
            hops = 0
            while True:
                parsed = await self._guard.check_url(current)
                try:
                    response = await session.get(parsed.url, allow_redirects=False, headers=dict(headers or {}))
                except (UnsafeUrlError, FetchError):
                    raise
                except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
                    raise FetchError(f"Timed out connecting to {parsed.host}.") from exc
                except aiohttp.ClientConnectorError as exc:
                    raise FetchError(f"Could not connect to {parsed.host}.") from exc
                except aiohttp.ClientResponseError as exc:
                    raise FetchError(f"{parsed.host} sent a malformed response.") from exc
                except aiohttp.ClientError as exc:
                    raise FetchError(f"Fetching the link failed: {exc.__class__.__name__}.") from exc
                location = response.headers.get("Location")
                if response.status in REDIRECT_CODES and location:
                    response.release()
                    hops += 1
                    if hops > self._policy.max_redirects:
                        raise FetchError(f"The link redirects too many times (more than {self._policy.max_redirects}).")
                    current = urljoin(parsed.url, location)
                    continue
                try:
                    yield parsed.url, response
                finally:
                    response.release()
                return

    async def get_page(self, url: str, max_bytes: int = PAGE_LIMIT) -> Page:
        """Read a page (any status) into memory, at most ``max_bytes``."""
        async with self.open(url) as (final_url, response):
            body = await _read_capped(response, max_bytes, truncate=True)
            return Page(final_url, response.status, response.headers.get("Content-Type"), _decode(body, response))

    async def fetch(
        self,
        url: str,
        dest_dir: Path,
        max_bytes: int,
        *,
        accept_page: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> Downloaded | Page:
        """GET ``url``: audio is streamed to a temp file, an HTML/text page is returned.

        With ``accept_page=False`` a page raises FetchError ("page without audio").
        Bytes that are neither audio nor a page raise NotAudioError.
        """
        async with self.open(url, headers) as (final_url, response):
            if response.status >= 400:
                if accept_page:
                    body = await _read_capped(response, PAGE_LIMIT, truncate=True)
                    return Page(
                        final_url, response.status, response.headers.get("Content-Type"), _decode(body, response)
                    )
                raise FetchError(_status_message(response.status))
            if response.status != 200:
                raise FetchError(f"The link answered with an unexpected status ({response.status}).")
            declared = response.content_length
            content_type = response.headers.get("Content-Type")
            head = await _read_head(response)
            if is_page(content_type, head):
                if not accept_page:
                    raise FetchError("That link is a page without audio.")
                rest = await _read_capped(response, PAGE_LIMIT - len(head), truncate=True)
                return Page(final_url, response.status, content_type, _decode(head + rest, response))
            if not looks_like_audio(head) and not media_type(content_type).startswith("audio/"):
                raise NotAudioError("The link does not point to an audio file.")
            if declared is not None and declared > max_bytes:
                raise TooLargeError(f"The file is larger than the {_cap_text(max_bytes)} cap.")
            path, size = await _stream_to_file(response, head, dest_dir, max_bytes, _suffix_for(content_type, head))
            return Downloaded(path, size, media_type(content_type) or None, final_url)

    async def download(
        self,
        url: str,
        dest_dir: Path,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
    ) -> Downloaded:
        """Stream audio at ``url`` to a temp file; FetchError when it is a page."""
        result = await self.fetch(url, dest_dir, max_bytes, accept_page=False, headers=headers)
        assert isinstance(result, Downloaded)
        return result


def _status_message(status: int) -> str:
    if status in (404, 410):
        return "The link points to nothing (the server says it is not found or removed)."
    if status in (401, 403):
        return "The link is private (the server refused access)."
    if status == 429:
        return "The site is rate-limiting us; try again later."
    return f"The site answered with an error ({status})."


def _decode(body: bytes, response: aiohttp.ClientResponse) -> str:
    charset = response.charset or "utf-8"
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


async def _read_chunk(response: aiohttp.ClientResponse, size: int) -> bytes:
    try:
        return await response.content.read(size)
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise FetchError("Timed out while downloading the link.") from exc
    except aiohttp.ClientPayloadError as exc:
        raise FetchError("The download broke off (the body did not match its declared size).") from exc
    except aiohttp.ClientError as exc:
        raise FetchError(f"The download broke off ({exc.__class__.__name__}).") from exc


async def _read_head(response: aiohttp.ClientResponse) -> bytes:
    head = b""
    while len(head) < SNIFF_BYTES:
        chunk = await _read_chunk(response, SNIFF_BYTES - len(head))
        if not chunk:
            break
        head += chunk
    return head


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int, *, truncate: bool) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        chunk = await _read_chunk(response, CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if total > max_bytes:
            if truncate:
                parts.append(chunk[: max(0, max_bytes - (total - len(chunk)))])
                break
            raise TooLargeError(f"The file is larger than the {_cap_text(max_bytes)} cap.")
        parts.append(chunk)
    return b"".join(parts)


async def _stream_to_file(
    response: aiohttp.ClientResponse, head: bytes, dest_dir: Path, max_bytes: int, suffix: str
) -> tuple[Path, int]:
    """Write ``head`` and the rest of the body to a new temp file; delete it on any failure."""
    os.makedirs(dest_dir, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest_dir, prefix="link-", suffix=suffix)
    path = Path(name)
    total = 0
    try:
        chunk = head
        while chunk:
            total += len(chunk)
            if total > max_bytes:
                raise TooLargeError(f"The file is larger than the {_cap_text(max_bytes)} cap.")
            view = memoryview(chunk)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            chunk = await _read_chunk(response, CHUNK)
        os.close(fd)
        fd = -1
    except BaseException:
        if fd >= 0:
            os.close(fd)
        _remove(path)
        raise
    if total == 0:
        _remove(path)
        raise FetchError("The link returned an empty file.")
    return path, total


def _remove(path: Path) -> None:
    """Delete a partial download, ignoring a file that is already gone."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
