"""A small Matrix client-server API client on aiohttp, for the federation rooms.

Federation works on raw JSON events of our own types (``org.wavepool.*``) and streams
media with a size cap; matrix-nio parses custom events into ``UnknownEvent`` and buffers
downloads in memory, so this part talks to the API directly. Every request has a timeout.
"""

from __future__ import annotations

import json
import secrets
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from core.errors import FetchError, TooLargeError

WHOLE_BODY = 4 << 20  # bodies up to this size are read in one piece (see download)


class MatrixError(Exception):
    """The homeserver answered with an error."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


class MatrixApi:
    """The calls federation needs, authenticated with an access token."""

    def __init__(
        self,
        homeserver: str,
        access_token: str,
        user_id: str,
        timeout_s: float = 60.0,
        renew: Callable[[str], Awaitable[str]] | None = None,
    ) -> None:
        self.homeserver = homeserver.rstrip("/")
        self.user_id = user_id
        self._token = access_token
        self._renew = renew  # a refused token -> the instance's new one (one login for every user of it)
        self._retired: list[aiohttp.ClientSession] = []
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    async def login(cls, homeserver: str, user_id: str, password: str, device_name: str) -> MatrixApi:
        """Log in with a password; the new client has its access token."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            async with session.post(
                f"{homeserver.rstrip('/')}/_matrix/client/v3/login",
                json={
                    "type": "m.login.password",
                    "identifier": {"type": "m.id.user", "user": user_id},
                    "password": password,
                    "initial_device_display_name": device_name,
                },
            ) as response:
                body = await response.text()
                if response.status != 200:
                    raise MatrixError(response.status, body)
                data = json.loads(body)
        return cls(homeserver, data["access_token"], data["user_id"])

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, headers={"Authorization": f"Bearer {self._token}"}
            )
        return self._session

    async def close(self) -> None:
        """Close the HTTP session (and those of tokens renewed since)."""
        for session in [*self._retired, self._session]:
            if session is not None:
                await session.close()
        self._retired.clear()

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> Any:
        """One JSON call; MatrixError on an error status. A refused token is renewed once."""
        for attempt in range(2):
            session = await self._http()
            timeout = aiohttp.ClientTimeout(total=timeout_s) if timeout_s else None
            async with session.request(
                method, f"{self.homeserver}{path}", json=body, params=params, timeout=timeout
            ) as response:
                text = await response.text()
                if await self._renewed(response.status, attempt):
                    continue
                if response.status >= 400:
                    raise MatrixError(response.status, text)
                return json.loads(text) if text else {}
        raise AssertionError("unreachable")

    async def _renewed(self, status: int, attempt: int) -> bool:
        """After a 401 on a first attempt, renew the token (when we can); whether to try again."""
        if status != 401 or self._renew is None or attempt != 0:
            return False
        await self.use_token(await self._renew(self._token))
        return True

    async def use_token(self, token: str) -> None:
        """Act with another access token from now on (the session was renewed)."""
        if token != self._token:
            self._token = token
            if self._session is not None:  # closed with the client: calls still running on it finish
                self._retired.append(self._session)
            self._session = None

    # -- rooms -------------------------------------------------------------------------

    async def join(self, room: str) -> str:
        """Join a room by id or alias; its id."""
        data = await self.request("POST", f"/_matrix/client/v3/join/{_q(room)}", {})
        return str(data["room_id"])

    async def leave(self, room_id: str) -> None:
        """Leave a room."""
        await self.request("POST", f"/_matrix/client/v3/rooms/{_q(room_id)}/leave", {})

    async def send(self, room_id: str, event_type: str, content: Mapping[str, Any]) -> str:
        """Send a timeline event; its id."""
        txn = secrets.token_hex(12)
        data = await self.request(
            "PUT", f"/_matrix/client/v3/rooms/{_q(room_id)}/send/{_q(event_type)}/{txn}", dict(content)
        )
        return str(data["event_id"])

    async def put_state(self, room_id: str, event_type: str, state_key: str, content: Mapping[str, Any]) -> str:
        """Set a state event."""
        data = await self.request(
            "PUT", f"/_matrix/client/v3/rooms/{_q(room_id)}/state/{_q(event_type)}/{_q(state_key)}", dict(content)
        )
        return str(data.get("event_id", ""))

    async def state(self, room_id: str) -> list[dict[str, Any]]:
        """The room's full current state."""
        data = await self.request("GET", f"/_matrix/client/v3/rooms/{_q(room_id)}/state")
        return list(data)

    async def messages(self, room_id: str, start: str | None, direction: str = "b", limit: int = 100) -> dict[str, Any]:
        """One page of history."""
        params = {"dir": direction, "limit": str(limit)}
        if start:
            params["from"] = start
        data: dict[str, Any] = await self.request(
            "GET", f"/_matrix/client/v3/rooms/{_q(room_id)}/messages", params=params
        )
        return data

    async def sync(self, since: str | None, timeout_ms: int, sync_filter: str | None) -> dict[str, Any]:
        """One sync; long-polls up to ``timeout_ms``. ``sync_filter``: a filter id or its JSON, or none.

        ``set_presence=offline``: a sync does not mark the account online, so a homeserver with
        presence on does no presence work (nor sends presence to other servers) per sync."""
        params = {"timeout": str(timeout_ms), "set_presence": "offline"}
        if sync_filter is not None:
            params["filter"] = sync_filter
        if since:
            params["since"] = since
        data: dict[str, Any] = await self.request(
            "GET", "/_matrix/client/v3/sync", params=params, timeout_s=timeout_ms / 1000 + 30
        )
        return data

    async def upload_filter(self, filter_json: str) -> str:
        """Store a sync filter on the homeserver; its id (a sync then names it instead of carrying it)."""
        data = await self.request("POST", f"/_matrix/client/v3/user/{_q(self.user_id)}/filter", json.loads(filter_json))
        return str(data["filter_id"])

    async def power_level(self, room_id: str, user_id: str) -> int:
        """A user's power level in a room."""
        try:
            levels = await self.request("GET", f"/_matrix/client/v3/rooms/{_q(room_id)}/state/m.room.power_levels/")
        except MatrixError:
            return 0
        users = levels.get("users") or {}
        return int(users.get(user_id, levels.get("users_default", 0)))

    # -- media -------------------------------------------------------------------------

    async def upload(self, path: Path, media_type: str, size: int) -> str:
        """Upload a file (streamed); its mxc URI. A refused token is renewed once."""
        for attempt in range(2):
            session = await self._http()
            with path.open("rb") as handle:
                async with session.post(
                    f"{self.homeserver}/_matrix/media/v3/upload",
                    data=handle,
                    params={"filename": path.name},
                    headers={"Content-Type": media_type, "Content-Length": str(size)},
                ) as response:
                    text = await response.text()
                    if await self._renewed(response.status, attempt):
                        continue
                    if response.status >= 400:
                        raise MatrixError(response.status, text)
                    return str(json.loads(text)["content_uri"])
        raise AssertionError("unreachable")

    async def download(self, mxc: str, max_bytes: int, chunk: int = 262144) -> AsyncIterator[bytes]:
        """Stream a file by mxc URI through authenticated media, at most ``max_bytes``."""
        parsed = urllib.parse.urlparse(mxc)
        if parsed.scheme != "mxc" or not parsed.netloc or not parsed.path.strip("/"):
            raise FetchError(f"not an mxc URI: {mxc[:100]}")
        url = f"{self.homeserver}/_matrix/client/v1/media/download/{_q(parsed.netloc)}/{_q(parsed.path.strip('/'))}"
        for attempt in range(2):
            session = await self._http()
            async with session.get(url) as response:
                if await self._renewed(response.status, attempt):
                    continue
                if response.status != 200:
                    raise FetchError(f"{mxc}: HTTP {response.status}")
                length = response.content_length
                if length is not None and length <= min(max_bytes, WHOLE_BODY):
                    # One read for a typical track: one await and one piece instead of one per chunk
                    body = await response.read()
                    if len(body) > max_bytes:
                        raise TooLargeError(f"{mxc} is larger than {max_bytes} bytes")
                    yield body
                    return
                received = 0
                async for piece in response.content.iter_chunked(chunk):
                    received += len(piece)
                    if received > max_bytes:
                        raise TooLargeError(f"{mxc} is larger than {max_bytes} bytes")
                    yield piece
                return
