"""``/blobs/<cid>``: the bytes of a public track, for players, feed readers and peers.

The address is the hash of the bytes, so a response never changes: ETag is the CID and
caching is ``immutable``. A whole-blob GET is verified while it streams; a Range request
(a player seeking) reads the slice from the pool's file (the scrub verifies files at rest).
Only one range per request: players ask for one, and multipart/byteranges buys nothing.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

from aiohttp import web

from core.app import App
from core.cid import parse_cid
from core.errors import IntegrityError, UsageError
from core.model import Cid
from core.visibility import is_public

log = logging.getLogger(__name__)

CACHE_FOREVER = "public, max-age=31536000, immutable"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 262144


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``(start, end)`` inclusive for a single-range header; None to serve the whole blob.

    Raises ``web.HTTPRequestRangeNotSatisfiable`` for a range outside the blob.
    """
    match = _RANGE.match(header.strip())
    if match is None:
        return None  # multiple ranges or another unit: RFC 9110 lets us answer 200 with everything
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0:
            raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    return start, end


def _read_slice(path: Path, start: int, length: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(start)
        return handle.read(length)


class BlobHandler:
    """Serves a blob when some public track has these bytes; 404 otherwise."""

    def __init__(self, app: App) -> None:
        self._app = app

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        """GET/HEAD ``/blobs/<cid>`` with Range, ETag and immutable caching."""
        try:
            cid = parse_cid(request.match_info["cid"])
        except UsageError as err:
            raise web.HTTPBadRequest(text=str(err)) from None
        pool = self._app.pool
        size = await pool.size_of(cid)
        media_type = await self._public_media_type(cid) if size is not None else None
        if size is None or media_type is None:
            raise web.HTTPNotFound(text="no such blob")
        etag = f'"{cid}"'
        headers = {
            "Content-Type": media_type,
            "Accept-Ranges": "bytes",
            "ETag": etag,
            "Cache-Control": CACHE_FOREVER,
            "X-Content-Type-Options": "nosniff",
        }
        if etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers={k: v for k, v in headers.items() if k != "Content-Type"})
        wanted = parse_range(request.headers.get("Range", ""), size) if "Range" in request.headers else None
        if wanted is not None and request.headers.get("If-Range", etag) != etag:
            wanted = None  # a validator for other bytes: send the whole (unchanged) blob
        if wanted is None:
            return await self._whole(request, cid, size, headers)
        start, end = wanted
        length = end - start + 1
        headers.update({"Content-Range": f"bytes {start}-{end}/{size}", "Content-Length": str(length)})
        response = web.StreamResponse(status=206, headers=headers)
        await response.prepare(request)
        if request.method != "HEAD":
            path = await pool.local_path(cid)
            if path is not None:
                sent = 0
                while sent < length:
                    chunk = await asyncio.to_thread(_read_slice, path, start + sent, min(CHUNK, length - sent))
                    if not chunk:
                        break
                    await response.write(chunk)
                    sent += len(chunk)
            else:  # a pool without files (in-memory): slice the verified bytes
                await response.write((await pool.read(cid))[start : end + 1])
        await response.write_eof()
        return response

    async def _whole(self, request: web.Request, cid: Cid, size: int, headers: dict[str, str]) -> web.StreamResponse:
        response = web.StreamResponse(headers={**headers, "Content-Length": str(size)})
        await response.prepare(request)
        if request.method != "HEAD":
            try:
                async for chunk in self._app.pool.stream(cid):
                    await response.write(chunk)
            except IntegrityError:
                log.error("blob %s is corrupt; stopped serving it mid-stream", cid)
                raise
        await response.write_eof()
        return response

    async def _public_media_type(self, cid: Cid) -> str | None:
        """The media type of the oldest public track with these bytes; None when none is public."""
        for track in await self._app.tracks.find_by_cid(cid):
            if is_public(track):  # never a track waiting for review or taken down
                return track.media_type or "application/octet-stream"
        return None
