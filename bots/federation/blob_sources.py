"""Opening a manifest's sources: an ``mxc://`` URI through the homeserver, or an HTTP URL.

A peer chooses the sources it lists, and any member of a federation room can post a
``have`` event, so an ``{"http": url}`` source is untrusted input: it goes through the same
address guard as a member's shared link (``storage.links.safe_http``). Private, loopback,
link-local and other non-public addresses are refused unless the operator allowed them in
``[links]`` (``allow_hosts`` / ``allow_ranges``), redirects are followed by hand with every
hop checked, and connect and read timeouts apply. The size cap is enforced while reading.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping

import aiohttp

from bots.federation.matrix_api import MatrixApi
from config.settings import LinkSettings
from core.errors import FetchError, TooLargeError
from storage.links.address_guard import AddressGuard, LinkPolicy
from storage.links.safe_http import SafeHttp

log = logging.getLogger(__name__)

CHUNK = 262144


class MatrixBlobSource:
    """``core.federation.ports.BlobSource`` over a Matrix account and guarded HTTP.

    ``links`` is the operator's ``[links]`` policy (the default allows no private address);
    ``host_map`` pins host names to addresses, which still pass the guard.
    """

    def __init__(
        self,
        api: MatrixApi,
        links: LinkPolicy | None = None,
        host_map: Mapping[str, str] | None = None,
        allow_http: bool = True,
    ) -> None:
        self._api = api
        policy = links if links is not None else LinkSettings()
        self._http = SafeHttp(policy, AddressGuard(policy, host_map=host_map))
        self._allow_http = allow_http

    async def open(self, source: Mapping[str, str], max_bytes: int) -> AsyncIterator[bytes]:
        """Stream the bytes of one source (the caller verifies them against the CID).

        UnsafeUrlError for an address the guard refuses, FetchError for other failures,
        TooLargeError past ``max_bytes``.
        """
        if "mxc" in source:
            async for chunk in self._api.download(source["mxc"], max_bytes):
                yield chunk
            return
        url = source.get("http")
        if isinstance(url, str) and url and self._allow_http:
            async for chunk in self._open_http(url, max_bytes):
                yield chunk
            return
        raise FetchError(f"unsupported source {str(dict(source))[:200]}")

    async def _open_http(self, url: str, max_bytes: int) -> AsyncIterator[bytes]:
        async with self._http.open(url) as (final_url, response):
            if response.status != 200:
                raise FetchError(f"{final_url[:200]}: HTTP {response.status}")
            if response.content_length is not None and response.content_length > max_bytes:
                raise TooLargeError(f"{final_url[:200]} is larger than {max_bytes} bytes")
            received = 0
            while True:
                try:
                    piece = await response.content.read(CHUNK)
                except (TimeoutError, aiohttp.ClientError) as error:
                    raise FetchError(f"{final_url[:200]}: download broke off ({type(error).__name__})") from error
                if not piece:
                    return
                received += len(piece)
                if received > max_bytes:
                    raise TooLargeError(f"{final_url[:200]} is larger than {max_bytes} bytes")
                yield piece
