#!/opt/wavepool/venv/bin/python
"""One-shot set-up of the compose file's homeserver: bot accounts, their tokens, the federation room.

Run by the ``init`` service of docker/compose.yaml before the instances start; every step
checks what exists first, so a second ``up`` reuses the accounts, tokens and room:

1. wait until Synapse answers, read its registration shared secret from its config;
2. for each bot name: keep ``<secrets>/<name>.token`` if Synapse still accepts it, else log
   in with the stored password, else register the account with the shared secret and a
   new random password;
3. create the federation room (public, ``history_visibility: shared``, an alias, power
   levels that let every member publish ``org.wavepool.instance`` and
   ``org.wavepool.snapshot`` state) unless the alias already resolves.

Settings (environment): WAVEPOOL_INIT_HOMESERVER, WAVEPOOL_INIT_SYNAPSE_CONFIG,
WAVEPOOL_INIT_BOTS, WAVEPOOL_INIT_ROOM_ALIAS, WAVEPOOL_INIT_SECRETS_DIR, WAVEPOOL_INIT_OWNER.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from bots.federation.part import ROOM_EVENT_LEVELS

log = logging.getLogger("wavepool.init")
WAIT_FOR_HOMESERVER_S = 300.0


class MatrixCallFailed(Exception):
    """A homeserver call answered with an error status."""

    def __init__(self, status: int, errcode: str, message: str) -> None:
        super().__init__(f"{status} {errcode}: {message}")
        self.status = status
        self.errcode = errcode


class Homeserver:
    """The few client-server and admin calls the set-up needs (standard library only)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        """One JSON request; raises ``MatrixCallFailed`` on an error status."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            try:
                detail = json.loads(error.read() or b"{}")
            except ValueError:
                detail = {}
            raise MatrixCallFailed(error.code, str(detail.get("errcode", "")), str(detail.get("error", ""))) from None

    def wait_until_up(self, timeout_s: float) -> None:
        """Poll /_matrix/client/versions until it answers (bounded)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.call("GET", "/_matrix/client/versions")
                return
            except (OSError, MatrixCallFailed) as error:
                if time.monotonic() > deadline:
                    raise SystemExit(f"init: {self.url} did not answer in {timeout_s:.0f} s: {error}") from None
                time.sleep(1.0)

    def register(self, shared_secret: str, username: str, password: str) -> str:
        """Shared-secret registration of a normal user; its access token."""
        nonce = self.call("GET", "/_synapse/admin/v1/register")["nonce"]
        mac = hmac.new(
            shared_secret.encode(),
            b"\x00".join(part.encode() for part in (nonce, username, password, "notadmin")),
            hashlib.sha1,
        ).hexdigest()
        data = self.call(
            "POST",
            "/_synapse/admin/v1/register",
            {"nonce": nonce, "username": username, "password": password, "admin": False, "mac": mac},
        )
        return str(data["access_token"])

    def login(self, username: str, password: str) -> str:
        """Password login; a new access token."""
        data = self.call(
            "POST",
            "/_matrix/client/v3/login",
            {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": username},
                "password": password,
                "initial_device_display_name": "wavepool",
            },
        )
        return str(data["access_token"])

    def whoami(self, token: str) -> str | None:
        """The user id a token belongs to, or None when the homeserver refuses it."""
        try:
            return str(self.call("GET", "/_matrix/client/v3/account/whoami", token=token)["user_id"])
        except MatrixCallFailed as error:
            if error.status in (401, 403):
                return None
            raise


def read_shared_secret(config: Path, timeout_s: float) -> str:
    """``registration_shared_secret`` from Synapse's YAML config (waits for the file to appear)."""
    deadline = time.monotonic() + timeout_s
    while not config.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"init: {config} did not appear; is the synapse service running?")
        time.sleep(1.0)
    match = re.search(r"^registration_shared_secret:\s*['\"]?([^'\"\s]+)", config.read_text(), re.MULTILINE)
    if match is None:
        raise SystemExit(f"init: {config} has no registration_shared_secret")
    return match.group(1)


class SecretFiles:
    """The shared volume: ``<name>.token`` readable by the instances, passwords only by root."""

    def __init__(self, folder: Path, owner: tuple[int, int]) -> None:
        self.folder = folder
        self.owner = owner

    def read(self, filename: str) -> str | None:
        """A stored secret, or None."""
        path = self.folder / filename
        return path.read_text(encoding="utf-8").strip() if path.exists() else None

    def write(self, filename: str, value: str, shared: bool) -> None:
        """Write atomically; tokens go to the instances' user, passwords stay private."""
        path = self.folder / filename
        temp = path.with_name(f".{filename}.tmp")
        temp.write_text(value + "\n", encoding="utf-8")
        if shared:
            os.chown(temp, *self.owner)
        os.chmod(temp, 0o400)
        os.replace(temp, path)


def ensure_account(hs: Homeserver, shared_secret: str, files: SecretFiles, name: str) -> tuple[str, str]:
    """(user id, a valid access token) for bot ``name``, reusing what exists."""
    token = files.read(f"{name}.token")
    if token:
        user_id = hs.whoami(token)
        if user_id:
            log.info("%s: existing token still valid (%s)", name, user_id)
            return user_id, token
    password = files.read(f"{name}.password")
    if password is None:
        password = secrets.token_urlsafe(24)
        files.write(f"{name}.password", password, shared=False)  # before registering: never lost
    try:
        token = hs.login(name, password)
        log.info("%s: logged in with the stored password", name)
    except MatrixCallFailed as error:
        if error.status != 403:
            raise
        try:
            token = hs.register(shared_secret, name, password)
        except MatrixCallFailed as taken:
            if taken.errcode == "M_USER_IN_USE":
                raise SystemExit(
                    f"init: the account {name!r} exists with another password than the one in "
                    f"{files.folder}; reset it with Synapse's admin API or remove both volumes"
                ) from None
            raise
        log.info("%s: account registered", name)
    files.write(f"{name}.token", token, shared=True)
    user_id = hs.whoami(token)
    assert user_id is not None
    return user_id, token


def ensure_room(hs: Homeserver, token: str, alias_localpart: str, server_name: str) -> str:
    """The federation room's id, creating the room and its alias on the first run."""
    alias = f"#{alias_localpart}:{server_name}"
    try:
        room_id = str(hs.call("GET", "/_matrix/client/v3/directory/room/" + urllib.parse.quote(alias))["room_id"])
        log.info("federation room %s exists (%s)", alias, room_id)
        return room_id
    except MatrixCallFailed as error:
        if error.status != 404:
            raise
    data = hs.call(
        "POST",
        "/_matrix/client/v3/createRoom",
        {
            "name": "Wavepool federation",
            "topic": "Wavepool federation",
            "preset": "public_chat",
            "room_alias_name": alias_localpart,
            "visibility": "private",
            "power_level_content_override": {"events": ROOM_EVENT_LEVELS},
            "initial_state": [
                {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "shared"}}
            ],
        },
        token=token,
    )
    log.info("federation room %s created (%s)", alias, data["room_id"])
    return str(data["room_id"])


def main() -> int:
    """Run the three steps; exit status 0 when everything is in place."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s init %(levelname)s %(message)s", stream=sys.stdout)
    env = os.environ
    hs = Homeserver(env.get("WAVEPOOL_INIT_HOMESERVER", "http://synapse:8008"))
    names = env.get("WAVEPOOL_INIT_BOTS", "alpha beta").replace(",", " ").split()
    uid, _, gid = env.get("WAVEPOOL_INIT_OWNER", "10001:10001").partition(":")
    files = SecretFiles(Path(env.get("WAVEPOOL_INIT_SECRETS_DIR", "/secrets")), (int(uid), int(gid or uid)))
    shared_secret = read_shared_secret(
        Path(env.get("WAVEPOOL_INIT_SYNAPSE_CONFIG", "/synapse/homeserver.yaml")), WAIT_FOR_HOMESERVER_S
    )
    hs.wait_until_up(WAIT_FOR_HOMESERVER_S)
    accounts = [ensure_account(hs, shared_secret, files, name) for name in names]
    owner_id, owner_token = accounts[0]
    ensure_room(hs, owner_token, env.get("WAVEPOOL_INIT_ROOM_ALIAS", "wavepool-federation"), owner_id.split(":", 1)[1])
    log.info("ready: %s", ", ".join(user_id for user_id, _ in accounts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
