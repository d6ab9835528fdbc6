"""One Matrix login per instance, kept in the data directory and shared by every user of it.

The chat bot (matrix-nio), the federation (``MatrixApi``) and the ``wavepool federation``
commands all act as the instance's one Matrix account. Logging in with a password makes a
new device each time, and nothing ever logged those devices out, so an account collected one
device per start. Now the first login's access token and device id are written to
``matrix_session.json`` (mode 0600) and reused; a kept token is checked with ``whoami`` and a
new login happens only when the homeserver refuses it, with the same device id, so the
account keeps a single device. An ``access_token`` in the config wins and is never written.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp

from bots.federation.matrix_api import MatrixError
from config.settings import MatrixSettings
from core.errors import UsageError

log = logging.getLogger(__name__)

SESSION_FILE = "matrix_session.json"


@dataclass(frozen=True)
class MatrixSession:
    """A logged-in Matrix account: where, who, and the credentials to act as it."""

    homeserver: str
    user_id: str
    access_token: str
    device_id: str


class SessionKeeper:
    """Gives every part of one instance the same Matrix session, logging in at most once."""

    def __init__(self, settings: MatrixSettings, data_dir: Path) -> None:
        self._settings = settings
        self._path = data_dir / SESSION_FILE
        self._lock = asyncio.Lock()
        self._session: MatrixSession | None = None
        self.logins = 0  # password logins made by this keeper (for tests and the log)

    async def session(self) -> MatrixSession:
        """The instance's session: the config's token, the kept one if still valid, else a new login.

        ``UsageError`` when the homeserver refuses the credentials; other errors (homeserver
        down) propagate for the caller's backoff."""
        async with self._lock:
            if self._session is None:
                self._session = await self._open()
            return self._session

    async def renew(self, refused_token: str) -> str:
        """A token the homeserver refused -> the current one, logging in again if nobody has yet."""
        async with self._lock:
            current = self._session
        if current is not None and current.access_token != refused_token:
            return current.access_token  # another part renewed it already
        if current is None:
            return (await self.session()).access_token
        return (await self.refused(current)).access_token

    async def refused(self, session: MatrixSession) -> MatrixSession:
        """The homeserver refused ``session``'s token: log in again (once for all parts)."""
        async with self._lock:
            if self._session is None or self._session == session:
                self._session = None
                if self._settings.access_token or not self._settings.password:
                    raise UsageError("matrix: the access token was refused")
                log.warning("matrix: the homeserver refused the access token; logging in again")
                self._session = await self._login(session.device_id)
            return self._session

    async def _open(self) -> MatrixSession:
        s = self._settings
        if not s.homeserver or not s.user_id:
            raise UsageError("matrix: set [matrix] homeserver and user_id")
        homeserver = s.homeserver.rstrip("/")
        if s.access_token:
            found = await _whoami(homeserver, s.access_token)
            if found is None:
                raise UsageError("matrix: the access token was refused")
            return MatrixSession(homeserver, found[0], s.access_token, found[1] or s.device_name)
        kept = self._read()
        if kept is not None and kept.homeserver == homeserver and kept.user_id == s.user_id:
            found = await _whoami(homeserver, kept.access_token)
            if found is not None:
                log.debug("matrix: reusing the kept session of %s (device %s)", kept.user_id, kept.device_id)
                return kept
            log.info("matrix: the kept access token was refused; logging in again as device %s", kept.device_id)
        return await self._login(kept.device_id if kept is not None else None)

    async def _login(self, device_id: str | None) -> MatrixSession:
        s = self._settings
        assert s.homeserver and s.user_id
        if not s.password:
            raise UsageError("matrix: set an access token or a password (WAVEPOOL_MATRIX_PASSWORD)")
        body: dict[str, object] = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": s.user_id},
            "password": s.password,
            "initial_device_display_name": s.device_name,
        }
        if device_id:
            body["device_id"] = device_id  # the same device again: the account keeps one
        homeserver = s.homeserver.rstrip("/")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            async with http.post(f"{homeserver}/_matrix/client/v3/login", json=body) as response:
                text = await response.text()
                if response.status in (400, 401, 403):
                    raise UsageError(f"matrix: login failed: {MatrixError(response.status, text)}")
                if response.status != 200:
                    raise MatrixError(response.status, text)
        data = json.loads(text)
        session = MatrixSession(homeserver, str(data["user_id"]), str(data["access_token"]), str(data["device_id"]))
        self.logins += 1
        self._write(session)
        log.info(
            "matrix: logged in as %s (device %s), session kept in %s", session.user_id, session.device_id, self._path
        )
        return session

    def _read(self) -> MatrixSession | None:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            return MatrixSession(**{k: str(data[k]) for k in ("homeserver", "user_id", "access_token", "device_id")})
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, OSError) as error:
            log.warning("matrix: ignoring an unreadable %s: %s", self._path, error)
            return None

    def _write(self, session: MatrixSession) -> None:
        """Write the session readable by the owner only, replacing the old file atomically."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        temp = self._path.with_suffix(".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(session), handle)
        os.chmod(temp, 0o600)
        os.replace(temp, self._path)


async def _whoami(homeserver: str, token: str) -> tuple[str, str | None] | None:
    """(user id, device id) of a token; None when the homeserver refuses it."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        async with http.get(
            f"{homeserver}/_matrix/client/v3/account/whoami", headers={"Authorization": f"Bearer {token}"}
        ) as response:
            text = await response.text()
            if response.status in (401, 403):
                return None
            if response.status != 200:
                raise MatrixError(response.status, text)
    data = json.loads(text)
    return str(data["user_id"]), (str(data["device_id"]) if data.get("device_id") else None)
