"""Opening a manifest's sources: an ``mxc://`` URI through the homeserver, or an HTTP URL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import aiohttp

from bots.federation.matrix_api import MatrixApi
from core.errors import FetchError, TooLargeError


class MatrixBlobSource:
    """``core.federation.ports.BlobSource`` over a Matrix account and plain HTTP."""

    def __init__(self, api: MatrixApi, allow_http: bool = True) -> None:
        self._api = api
        self._allow_http = allow_http

    async def open(self, source: Mapping[str, str], max_bytes: int) -> AsyncIterator[bytes]:
        """Stream the bytes of one source (the caller verifies them against the CID)."""
        if "mxc" in source:
            async for chunk in self._api.download(source["mxc"], max_bytes):
                yield chunk
            return
        url = source.get("http")
        if url and self._allow_http and url.startswith(("http://", "https://")):
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)
            async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
                if response.status != 200:
                    raise FetchError(f"{url}: HTTP {response.status}")
                received = 0
                async for piece in response.content.iter_chunked(262144):
                    received += len(piece)
                    if received > max_bytes:
                        raise TooLargeError(f"{url} is larger than {max_bytes} bytes")
                    yield piece
            return
        raise FetchError(f"unsupported source {dict(source)}")
