"""Local servers on 127.0.0.1 for the link-fetching tests.

``LinkServer`` is an aiohttp app whose routes are registered per test (bytes, HTML pages,
redirects, slow or chunked bodies) and which records every request it receives.
``RawServer`` is a bare TCP server that counts connections and bytes (to prove that a
refused URL never reached it) and can answer with a hand-written, possibly lying,
HTTP response.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class SeenRequest:
    """One request the server received."""

    method: str
    path: str
    host: str | None


@dataclass
class LinkServer:
    """An aiohttp server on 127.0.0.1 with routes added by the test."""

    routes: dict[str, Handler] = field(default_factory=dict)
    seen: list[SeenRequest] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    async def start(self) -> LinkServer:
        """Listen on an ephemeral port of 127.0.0.1."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def stop(self) -> None:
        """Shut the server down."""
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        """An http URL of this server under ``host``."""
        return f"http://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        """The paths requested so far."""
        return [s.path for s in self.seen]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(SeenRequest(request.method, request.path, request.headers.get("Host")))
        handler = self.routes.get(request.path)
        if handler is None:
            return web.Response(status=404, text="<html><body>not found</body></html>", content_type="text/html")
        return await handler(request)

    def add_bytes(self, path: str, data: bytes, content_type: str = "audio/mpeg") -> None:
        """Serve ``data`` with an honest Content-Length."""

        async def handler(_: web.Request) -> web.StreamResponse:
            return web.Response(body=data, content_type=content_type)

        self.routes[path] = handler

    def add_html(self, path: str, html: str, status: int = 200) -> None:
        """Serve an HTML page."""

        async def handler(_: web.Request) -> web.StreamResponse:
            return web.Response(text=html, status=status, content_type="text/html")

        self.routes[path] = handler

    def add_redirect(self, path: str, location: str, status: int = 302) -> None:
        """Redirect ``path`` to ``location``."""

        async def handler(_: web.Request) -> web.StreamResponse:
            return web.Response(status=status, headers={"Location": location})

        self.routes[path] = handler

    def add_chunked(self, path: str, chunk: bytes, count: int, content_type: str = "audio/mpeg") -> None:
        """Stream ``count`` chunks with chunked encoding (no Content-Length at all)."""

        async def handler(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": content_type})
            response.enable_chunked_encoding()
            await response.prepare(request)
            try:
                for _ in range(count):
                    await response.write(chunk)
            except (ConnectionError, RuntimeError):
                pass
            return response

        self.routes[path] = handler

    def add_slow(self, path: str, delay_s: float, content_type: str = "audio/mpeg") -> None:
        """Send headers and a first chunk, then stall for ``delay_s``."""

        async def handler(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": content_type})
            response.enable_chunked_encoding()
            await response.prepare(request)
            await response.write(b"ID3\x04\x00\x00\x00\x00\x00\x00")
            await asyncio.sleep(delay_s)
            return response

        self.routes[path] = handler


@dataclass
class RawServer:
    """A TCP server that counts what reaches it and answers with fixed bytes."""

    response: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    body_after: bytes = b""
    body_repeat: int = 0
    connections: int = 0
    received: bytes = b""
    port: int = 0
    _server: asyncio.AbstractServer | None = None

    async def start(self) -> RawServer:
        """Listen on an ephemeral port of 127.0.0.1."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Shut the server down."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            self.received += await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            writer.write(self.response)
            for _ in range(self.body_repeat):
                writer.write(self.body_after)
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
