"""A local fake of Discord's REST API, gateway and CDN that the real discord.py client talks to.

Only what a Wavepool bot uses is implemented; every other route answers 404 and is
recorded in ``unknown`` so a test can assert none was hit. Every request is recorded.
Point discord.py at it with ``bots.discord.part.point_at(fake.base)``.

Like Discord, it refuses what breaks Discord's documented limits (messages, embeds,
components, modals, command registration, thread names: see ``discord_limits``) with
HTTP 400, code 50035 and the offending field paths in ``errors``; refusals are kept in
``rejected``. It starts threads from messages and takes messages in them, and honours
``enforce_nonce``: the same author sending the same nonce within a few minutes gets the
message already created, and no new one is made.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.support.discord_limits import (
    check_commands,
    check_message,
    check_modal,
    check_thread,
    is_empty,
)

APP_ID = "900000000000000001"
BOT_ID = "900000000000000002"
GUILD_ID = "910000000000000001"
NONCE_WINDOW_S = 300  # Discord remembers an enforced nonce for "a few minutes"
EVERYONE_PERMS = str(0x400 | 0x800 | 0x8000 | 0x10000 | 0x40 | 0x80000000)  # view, send, attach, history...


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py parses JSON only when the type is exactly application/json (no charset)
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


def _invalid(errors: dict[str, Any]) -> web.Response:
    return _json({"message": "Invalid Form Body", "code": 50035, "errors": errors}, 400)


@dataclass
class Recorded:
    """One REST request."""

    method: str
    path: str
    json: Any
    files: list[tuple[str, bytes]] = field(default_factory=list)
    at: float = field(default_factory=time.monotonic)  # when the fake received it (load tests time answers)


class DiscordFake:
    """REST + gateway + CDN on 127.0.0.1."""

    def __init__(self) -> None:
        self._ids = itertools.count(920000000000000001)
        self.requests: list[Recorded] = []
        self.unknown: list[str] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.edits: list[str] = []  # ids of messages edited (PATCH), in order
        self.threads: dict[str, dict[str, Any]] = {}  # thread id (= its starting message's id) -> channel
        self.threads_forbidden = False  # True: the bot lacks Create Public Threads (403, code 50013)
        self.rejected: list[tuple[str, dict[str, Any]]] = []  # (path, errors) of every 400 answered
        self._nonces: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self.cdn: dict[str, bytes] = {}
        self.fail_next: dict[str, int] = {}  # path prefix -> how many 500s to answer first
        self.rate_limit_next: dict[str, int] = {}  # path prefix -> how many 429s to answer first
        self.channels = {name: self.snowflake() for name in ("music", "synthwave", "rounds")}
        self.users = {
            "bot": {
                "id": BOT_ID,
                "username": "wavepool",
                "discriminator": "0",
                "global_name": "Wavepool",
                "avatar": None,
                "bot": True,
            }
        }
        self._sockets: list[web.WebSocketResponse] = []
        self._seq = 0
        self.identified = asyncio.Event()
        self.identifies = 0  # IDENTIFY payloads received (a fresh session each)
        self.resumes = 0  # RESUME payloads answered with RESUMED
        self.resumable = True  # False: a RESUME is answered "invalid session" (op 9)
        self.runner: web.AppRunner | None = None
        self.base = ""

    async def drop_gateway(self, resumable: bool = True) -> None:
        """Close every gateway connection as Discord does on a network fault (code 4000: reconnect)."""
        self.resumable = resumable
        for socket in list(self._sockets):
            await socket.close(code=4000, message=b"dropped by the test")
        self._sockets.clear()

    def snowflake(self) -> str:
        return str(next(self._ids))

    def user(self, name: str) -> dict[str, Any]:
        if name not in self.users:
            self.users[name] = {
                "id": self.snowflake(),
                "username": name,
                "discriminator": "0",
                "global_name": name.capitalize(),
                "avatar": None,
            }
        return self.users[name]

    def member(self, name: str, permissions: str = EVERYONE_PERMS) -> dict[str, Any]:
        return {
            "user": self.user(name),
            "roles": [],
            "joined_at": "2026-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "permissions": permissions,
            "nick": None,
        }

    # -- server ------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=100 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/cdn/{name}", self._cdn)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        for socket in self._sockets:
            await socket.close()
        if self.runner is not None:
            await self.runner.cleanup()

    def attachment(self, filename: str, data: bytes, content_type: str) -> dict[str, Any]:
        """Put a file on the CDN; its attachment payload."""
        attachment_id = self.snowflake()
        self.cdn[f"{attachment_id}-{filename}"] = data
        url = f"{self.base}/cdn/{attachment_id}-{filename}"
        return {
            "id": attachment_id,
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }

    async def _cdn(self, request: web.Request) -> web.Response:
        data = self.cdn.get(request.match_info["name"])
        return web.Response(body=data) if data is not None else web.Response(status=404)

    # -- gateway -----------------------------------------------------------------------

    def _channel(self, name: str, channel_id: str) -> dict[str, Any]:
        return {
            "id": channel_id,
            "type": 0,
            "name": name,
            "position": 0,
            "guild_id": GUILD_ID,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
        }

    def guild(self) -> dict[str, Any]:
        return {
            "id": GUILD_ID,
            "name": "AI Music",
            "owner_id": self.user("owner")["id"],
            "unavailable": False,
            "roles": [
                {
                    "id": GUILD_ID,
                    "name": "@everyone",
                    "permissions": EVERYONE_PERMS,
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "channels": [self._channel(n, i) for n, i in self.channels.items()],
            "members": [self.member("bot")],
            "member_count": 1,
            "emojis": [],
            "stickers": [],
            "features": [],
            "voice_states": [],
            "presences": [],
            "threads": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "joined_at": "2026-01-01T00:00:00+00:00",
            "large": False,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "system_channel_flags": 0,
            "afk_timeout": 300,
        }

    async def _send(self, payload: dict[str, Any]) -> None:
        for socket in list(self._sockets):
            if not socket.closed:
                await socket.send_str(json.dumps(payload))

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a gateway event to the connected client."""
        self._seq += 1
        await self._send({"op": 0, "t": event, "s": self._seq, "d": data})

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            payload = json.loads(message.data)
            if payload.get("op") == 1:
                await socket.send_str(json.dumps({"op": 11}))
            elif payload.get("op") == 6:  # RESUME after a dropped connection
                if self.resumable:
                    self.resumes += 1
                    await self.dispatch("RESUMED", {})
                else:  # the session is gone: the client must identify again
                    await socket.send_str(json.dumps({"op": 9, "d": False}))
            elif payload.get("op") == 2:
                self.identifies += 1
                await self.dispatch(
                    "READY",
                    {
                        "v": 10,
                        "user": self.users["bot"],
                        "guilds": [{"id": GUILD_ID, "unavailable": True}],
                        "session_id": "fake-session",
                        "resume_gateway_url": self.base.replace("http", "ws") + "/gateway",
                        "application": {"id": APP_ID, "flags": 0},
                        "private_channels": [],
                        "relationships": [],
                    },
                )
                await self.dispatch("GUILD_CREATE", self.guild())
                self.identified.set()
        return socket

    # -- REST --------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body: Any = None
        files: list[tuple[str, bytes]] = []
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if part.name == "payload_json":
                    body = json.loads(await part.text())
                else:
                    files.append((part.filename or "", await part.read()))
        elif request.can_read_body:
            raw = await request.read()
            body = json.loads(raw) if raw else None
        self.requests.append(Recorded(request.method, path, body, files))
        for prefix, count in list(self.fail_next.items()):
            if path.startswith(prefix) and count > 0:
                self.fail_next[prefix] = count - 1
                return _json({"message": "upstream outage", "code": 0}, 500)
        for prefix, count in list(self.rate_limit_next.items()):
            if path.startswith(prefix) and count > 0:
                self.rate_limit_next[prefix] = count - 1
                return web.Response(
                    body=json.dumps(
                        {"message": "You are being rate limited.", "retry_after": 0.2, "global": False, "code": 0}
                    ).encode(),
                    status=429,
                    headers={
                        "Content-Type": "application/json",
                        "Retry-After": "1",
                        "Via": "1.1 google",
                        "X-RateLimit-Limit": "5",
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset-After": "0.2",
                        "X-RateLimit-Bucket": "fake",
                        "X-RateLimit-Scope": "user",
                    },
                )
        handler = self._route(request.method, path)
        if handler is None:
            self.unknown.append(f"{request.method} {path}")
            return _json({"message": "404: Not Found", "code": 0}, 404)
        return await handler(request, path, body, files)

    def _route(self, method: str, path: str) -> Any:
        parts = path.strip("/").split("/")
        if method == "GET" and path == "/users/@me":
            return self._me
        if method == "GET" and path == "/oauth2/applications/@me":
            return self._application
        if parts[0] == "applications" and parts[-1] == "commands" and method in ("PUT", "GET"):
            return self._commands
        if parts[0] == "channels" and len(parts) == 3 and parts[2] == "messages" and method == "POST":
            return self._create_message
        if (
            parts[0] == "channels"
            and len(parts) == 5
            and parts[2] == "messages"
            and parts[4] == "threads"
            and method == "POST"
        ):
            return self._start_thread
        if parts[0] == "channels" and len(parts) == 4 and parts[2] == "messages" and method == "PATCH":
            return self._edit_message
        if parts[0] == "channels" and len(parts) == 2 and method == "GET":
            return self._get_channel
        if parts[0] == "channels" and len(parts) == 3 and parts[2] == "typing":
            return self._no_content
        if parts[0] == "interactions" and parts[-1] == "callback" and method == "POST":
            return self._callback
        if parts[0] == "webhooks" and len(parts) == 3 and method == "POST":
            return self._followup
        if parts[0] == "webhooks" and len(parts) == 5 and parts[3] == "messages":
            return self._webhook_message
        return None

    async def _edit_message(self, request: web.Request, path: str, body: Any, files: Any) -> web.Response:
        """PATCH /channels/{channel}/messages/{message}: the same checks as a new message."""
        _, channel_id, _, message_id = path.strip("/").split("/")
        message = next((m for m in self.messages.get(channel_id, []) if m["id"] == message_id), None)
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        errors = check_message(body or {}, bool(files))
        if errors:
            return self._refuse(path, errors)
        for key in ("content", "embeds", "components"):
            if key in (body or {}):
                message[key] = body[key]
        message["edited_timestamp"] = "2026-11-25T00:00:01+00:00"
        self.edits.append(message_id)
        return _json(message)

    async def _me(self, *_: Any) -> web.Response:
        return _json(self.users["bot"])

    async def _application(self, *_: Any) -> web.Response:
        return _json(
            {
                "id": APP_ID,
                "name": "Wavepool",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "flags": 0,
                "owner": self.user("owner"),
                "team": None,
            }
        )

    async def _commands(self, request: web.Request, path: str, body: Any, _files: Any) -> web.Response:
        if request.method == "PUT":
            errors = check_commands(body or [])
            if errors:
                return self._refuse(path, errors)
            stored = []
            for command in body or []:
                stored.append(
                    {
                        **command,
                        "id": self.snowflake(),
                        "application_id": APP_ID,
                        "version": "1",
                        "default_member_permissions": command.get("default_member_permissions"),
                    }
                )
            self.commands[path] = stored
        return _json(self.commands.get(path, []))

    def _message(
        self,
        channel_id: str,
        body: dict[str, Any],
        files: list[tuple[str, bytes]],
        author: dict[str, Any] | None = None,
        flags: int = 0,
    ) -> dict[str, Any]:
        message = {
            "id": self.snowflake(),
            "channel_id": channel_id,
            "guild_id": GUILD_ID,
            "author": author or self.users["bot"],
            "content": body.get("content") or "",
            "timestamp": "2026-11-25T00:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "type": 0,
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "attachments": [
                {
                    "id": self.snowflake(),
                    "filename": name,
                    "size": len(data),
                    "url": f"{self.base}/cdn/x",
                    "proxy_url": f"{self.base}/cdn/x",
                }
                for name, data in files
            ],
            "flags": body.get("flags") or flags,
        }
        if body.get("message_reference"):
            message["message_reference"] = body["message_reference"]
        self.messages.setdefault(channel_id, []).append(message)
        return message

    def _refuse(self, path: str, errors: dict[str, Any]) -> web.Response:
        self.rejected.append((path, errors))
        return _invalid(errors)

    def _check(self, path: str, body: dict[str, Any], files: list[Any]) -> web.Response | None:
        """Discord's answer to a message body that breaks its limits, or None."""
        errors = check_message(body, bool(files))
        if errors:
            return self._refuse(path, errors)
        if is_empty(body, bool(files)):
            self.rejected.append((path, {"code": 50006}))
            return _json({"message": "Cannot send an empty message", "code": 50006}, 400)
        return None

    async def _create_message(self, request: web.Request, path: str, body: Any, files: Any) -> web.Response:
        channel_id = path.strip("/").split("/")[1]
        body = body or {}
        if channel_id not in self.channels.values() and channel_id not in self.threads:
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        refused = self._check(path, body, files)
        if refused is not None:
            return refused
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            key = (BOT_ID, str(nonce))
            seen = self._nonces.get(key)
            if seen is not None and time.monotonic() - seen[0] < NONCE_WINDOW_S:
                return _json(seen[1])
            message = self._message(channel_id, body, files)
            self._nonces[key] = (time.monotonic(), message)
            return _json(message)
        return _json(self._message(channel_id, body, files))

    async def _start_thread(self, request: web.Request, path: str, body: Any, _files: Any) -> web.Response:
        _, channel_id, _, message_id, _ = path.strip("/").split("/")
        body = body or {}
        errors = check_thread(body)
        if errors:
            return self._refuse(path, errors)
        if self.threads_forbidden:
            return _json({"message": "Missing Permissions", "code": 50013}, 403)
        message = next((m for m in self.messages.get(channel_id, []) if m["id"] == message_id), None)
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        if message_id in self.threads:
            return _json({"message": "A thread has already been created for this message", "code": 160004}, 400)
        thread = {
            "id": message_id,
            "type": 11,
            "guild_id": GUILD_ID,
            "parent_id": channel_id,
            "owner_id": BOT_ID,
            "name": body["name"],
            "last_message_id": None,
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "flags": 0,
            "total_message_sent": 0,
            "thread_metadata": {
                "archived": False,
                "locked": False,
                "auto_archive_duration": body.get("auto_archive_duration") or 4320,
                "archive_timestamp": "2026-11-25T00:00:00+00:00",
            },
        }
        self.threads[message_id] = thread
        message["thread"] = thread
        return _json(thread)

    def thread_of(self, message_id: str) -> list[dict[str, Any]]:
        """The messages posted in the thread started from a message (empty when none)."""
        return self.messages.get(message_id, []) if message_id in self.threads else []

    async def _get_channel(self, request: web.Request, path: str, *_: Any) -> web.Response:
        channel_id = path.strip("/").split("/")[1]
        for name, known in self.channels.items():
            if known == channel_id:
                return _json(self._channel(name, known))
        if channel_id in self.threads:
            return _json(self.threads[channel_id])
        return _json({"message": "Unknown Channel", "code": 10003}, 404)

    async def _no_content(self, *_: Any) -> web.Response:
        return web.Response(status=204)

    async def _callback(self, request: web.Request, path: str, body: Any, files: Any) -> web.Response:
        interaction_id = path.strip("/").split("/")[1]
        kind = (body or {}).get("type")
        resource: dict[str, Any] = {"type": kind}
        data = (body or {}).get("data") or {}
        if kind == 9:
            errors = check_modal(data)
            if errors:
                return self._refuse(path, errors)
        if kind in (4, 7):
            refused = self._check(path, data, files)
            if refused is not None:
                return refused
        if kind in (4, 5, 7):
            resource["message"] = self._message(self.channels["music"], data, files, flags=data.get("flags") or 0)
        return _json({"interaction": {"id": interaction_id, "type": 2}, "resource": resource})

    async def _followup(self, request: web.Request, path: str, body: Any, files: Any) -> web.Response:
        refused = self._check(path, body or {}, files)
        if refused is not None:
            return refused
        return _json(self._message(self.channels["music"], body or {}, files))

    async def _webhook_message(self, request: web.Request, path: str, body: Any, files: Any) -> web.StreamResponse:
        if request.method == "DELETE":
            return web.Response(status=204)
        if request.method == "PATCH":
            errors = check_message(body or {}, bool(files))
            if errors:
                return self._refuse(path, errors)
        return _json(self._message(self.channels["music"], body or {}, files))

    # -- helpers for tests ---------------------------------------------------------------

    def interaction(
        self,
        name: str,
        options: list[dict[str, Any]],
        user: str = "alice",
        channel: str = "music",
        permissions: str = EVERYONE_PERMS,
        resolved: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An INTERACTION_CREATE payload for a registered slash command."""
        route, registered = next(
            (route, c) for route, cmds in self.commands.items() for c in cmds if c["name"] == name.split()[0]
        )
        data: dict[str, Any] = {"id": registered["id"], "name": registered["name"], "type": 1, "options": options}
        if "/guilds/" in route:
            data["guild_id"] = GUILD_ID  # Discord names the guild of a guild command
        if " " in name:
            data["options"] = [{"name": name.split()[1], "type": 1, "options": options}]
        if resolved:
            data["resolved"] = resolved
        channel_id = self.channels[channel]
        return {
            "id": self.snowflake(),
            "application_id": APP_ID,
            "type": 2,
            "token": f"tok{time.monotonic_ns()}",
            "version": 1,
            "guild_id": GUILD_ID,
            "channel_id": channel_id,
            "channel": self._channel(channel, channel_id),
            "member": self.member(user, permissions),
            "data": data,
            "app_permissions": EVERYONE_PERMS,
            "locale": "en-US",
            "guild_locale": "en-US",
            "attachment_size_limit": 10 * 1024 * 1024,
            "entitlements": [],
            "authorizing_integration_owners": {"0": GUILD_ID},
            "context": 0,
        }

    def component_interaction(self, message: dict[str, Any], custom_id: str, user: str = "carol") -> dict[str, Any]:
        """An INTERACTION_CREATE payload for a member pressing a button of a stored message."""
        channel_id = message["channel_id"]
        name = next((n for n, i in self.channels.items() if i == channel_id), None)
        channel = self.threads[channel_id] if channel_id in self.threads else self._channel(name or "?", channel_id)
        return {
            "id": self.snowflake(),
            "application_id": APP_ID,
            "type": 3,
            "token": f"tok{time.monotonic_ns()}",
            "version": 1,
            "guild_id": GUILD_ID,
            "channel_id": channel_id,
            "channel": channel,
            "member": self.member(user),
            "message": message,
            "data": {"custom_id": custom_id, "component_type": 2},
            "app_permissions": EVERYONE_PERMS,
            "locale": "en-US",
            "guild_locale": "en-US",
            "attachment_size_limit": 10 * 1024 * 1024,
            "entitlements": [],
            "authorizing_integration_owners": {"0": GUILD_ID},
            "context": 0,
        }

    def message_create(
        self, content: str, user: str = "alice", channel: str = "music", attachments: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """A MESSAGE_CREATE payload from a member."""
        return {
            "id": self.snowflake(),
            "channel_id": self.channels[channel],
            "guild_id": GUILD_ID,
            "author": self.user(user),
            "member": {k: v for k, v in self.member(user).items() if k != "user"},
            "content": content,
            "timestamp": "2026-11-25T00:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "type": 0,
            "embeds": [],
            "components": [],
            "attachments": attachments or [],
            "flags": 0,
        }

    def sent(self, method: str = "POST", contains: str = "") -> list[Recorded]:
        """Recorded requests by method and path fragment."""
        return [r for r in self.requests if r.method == method and contains in r.path]
