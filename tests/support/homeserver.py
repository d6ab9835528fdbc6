"""Real Synapse homeservers for tests, on 127.0.0.1, plus the client-server calls tests need.

``Homeserver.start(folder)`` writes a config (SQLite, every rate limit raised, fast
bcrypt), generates a signing key, starts Synapse in its own session with a parent-death
signal (a killed test run leaves nothing behind) and waits, bounded, until it answers.
If it cannot start, the error carries the tail of its log: tests fail, never skip.
``federating=True`` adds a TLS federation listener so two homeservers federate on
loopback (names ``localhost:<port>``; see docs/FACTS.md).
"""

from __future__ import annotations

import ctypes
import hashlib
import hmac
import json
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

START_TIMEOUT_S = 60.0
RATE = {"per_second": 1000, "burst_count": 10000}
MEMBER_PREFIX = "member-"  # localparts of simulated members (``Homeserver.register_member``)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _self_signed(folder: Path) -> tuple[Path, Path]:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "tls.crt", folder / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@dataclass
class Homeserver:
    """A running Synapse."""

    folder: Path
    port: int
    server_name: str
    secret: str
    process: subprocess.Popen[bytes] | None = None
    users: dict[str, str] = field(default_factory=dict)  # user id -> access token
    database_dir: Path | None = None  # a tmpfs folder holding the database, removed at stop
    members_token: str | None = None  # the application service that registers simulated members

    @property
    def url(self) -> str:
        """Client-server base URL."""
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(
        cls,
        folder: Path,
        federating: bool = False,
        max_upload: str = "50M",
        database_in_memory: bool = False,
        simulated_members: bool = False,
    ) -> Homeserver:
        """Configure and start; returns once the server answers.

        ``database_in_memory`` keeps Synapse's SQLite file on tmpfs (/dev/shm) where there is one:
        load tests use it because every stored event is a commit, and on a test machine's disk the
        fsync of each commit was a sixth of Synapse's work (a deployment runs PostgreSQL on its
        own disk). The file survives a restart of the server, not of the machine.

        ``simulated_members`` registers an application service owning ``@member-*`` accounts
        (``register_member``), as a bridge owns its bridged users. Synapse evaluates no push
        rules for such accounts: a message in a room of 1,000 plain local accounts costs it a
        push-rule pass and an unread-count row for each (most of its work there, measured with
        py-spy), work that in a real community each member's own homeserver does for its own
        users. For the bot, a member is a member: same events, same commands, same answers."""
        import yaml  # Synapse depends on PyYAML
        from signedjson.key import generate_signing_key, write_signing_keys

        folder.mkdir(parents=True, exist_ok=True)
        port = free_port()
        fed_port = free_port() if federating else None
        server_name = f"localhost:{fed_port}" if federating else "localhost"
        secret = secrets.token_hex(16)
        shm = Path("/dev/shm")
        database_dir = (
            Path(tempfile.mkdtemp(prefix="synapse-db-", dir=shm)) if database_in_memory and shm.is_dir() else None
        )
        key_path = folder / "signing.key"
        with key_path.open("w") as handle:
            write_signing_keys(handle, [generate_signing_key("a_" + secrets.token_hex(2))])
        listeners: list[dict[str, Any]] = [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ]
        config: dict[str, Any] = {
            "server_name": server_name,
            "public_baseurl": f"http://127.0.0.1:{port}/",
            "pid_file": str(folder / "pid"),
            "listeners": listeners,
            "database": {"name": "sqlite3", "args": {"database": str((database_dir or folder) / "hs.db")}},
            "media_store_path": str(folder / "media"),
            "signing_key_path": str(key_path),
            "log_config": str(folder / "log.yaml"),
            "report_stats": False,
            "registration_shared_secret": secret,
            "macaroon_secret_key": secrets.token_hex(16),
            "form_secret": secrets.token_hex(16),
            "enable_registration": False,
            "suppress_key_server_warning": True,
            "trusted_key_servers": [],
            "presence": {"enabled": False},
            "max_upload_size": max_upload,
            "url_preview_enabled": False,
            "bcrypt_rounds": 4,
            "enable_media_repo": True,
            "user_directory": {"enabled": False},
        }
        for name in (
            "rc_message",
            "rc_registration",
            "rc_login",
            "rc_joins",
            "rc_joins_per_room",
            "rc_invites",
            "rc_room_creation",
            "rc_media_create",
            "rc_admin_redaction",
            "rc_profile",
            "rc_3pid_validation",
            "rc_federation",
            "rc_key_requests",
        ):
            config[name] = dict(RATE)
        config["rc_login"] = {"address": RATE, "account": RATE, "failed_attempts": RATE}
        config["rc_joins"] = {"local": RATE, "remote": RATE}
        config["rc_invites"] = {"per_room": RATE, "per_user": RATE, "per_issuer": RATE}
        config["rc_federation"] = {
            "window_size": 1000,
            "sleep_limit": 10000,
            "sleep_delay": 1,
            "reject_limit": 10000,
            "concurrent": 100,
        }
        members_token = None
        if simulated_members:
            members_token = secrets.token_hex(16)
            registration = {
                "id": "simulated-members",
                "url": None,  # events are not pushed to it: the members act through the client API
                "as_token": members_token,
                "hs_token": secrets.token_hex(16),
                "sender_localpart": "members-bridge",
                "rate_limited": False,
                "namespaces": {"users": [{"exclusive": True, "regex": f"@{MEMBER_PREFIX}.*"}]},
            }
            (folder / "members-appservice.yaml").write_text(yaml.safe_dump(registration))
            config["app_service_config_files"] = [str(folder / "members-appservice.yaml")]
        config.pop("rc_key_requests")
        config.pop("rc_3pid_validation")
        if federating:
            cert, key = _self_signed(folder)
            listeners.append(
                {
                    "port": fed_port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": True,
                    "resources": [{"names": ["federation"], "compress": False}],
                }
            )
            config.update(
                {
                    "tls_certificate_path": str(cert),
                    "tls_private_key_path": str(key),
                    "federation_verify_certificates": False,
                    "ip_range_whitelist": ["127.0.0.1/32"],
                }
            )
        (folder / "log.yaml").write_text(
            yaml.safe_dump(
                {
                    "version": 1,
                    "formatters": {"f": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
                    "handlers": {
                        "file": {
                            "class": "logging.FileHandler",
                            "filename": str(folder / "homeserver.log"),
                            "formatter": "f",
                        }
                    },
                    "root": {"level": "WARNING", "handlers": ["file"]},
                    "disable_existing_loggers": False,
                }
            )
        )
        (folder / "homeserver.yaml").write_text(yaml.safe_dump(config))
        server = cls(folder, port, server_name, secret, database_dir=database_dir, members_token=members_token)
        out = (folder / "stdout.log").open("wb")
        server.process = subprocess.Popen(
            [sys.executable, "-m", "synapse.app.homeserver", "-c", str(folder / "homeserver.yaml")],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            cwd=folder,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{server.url}/_matrix/client/versions", timeout=1) as response:
                    if response.status == 200:
                        return server
            except OSError:
                time.sleep(0.1)
        server.stop()
        raise RuntimeError(f"Synapse did not start in {START_TIMEOUT_S:.0f} s:\n{server.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        """The end of Synapse's logs."""
        text = ""
        for name in ("stdout.log", "homeserver.log"):
            path = self.folder / name
            if path.exists():
                text += f"--- {name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"
        return text

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if needed; a tmpfs database goes with it."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.database_dir is not None:
            shutil.rmtree(self.database_dir, ignore_errors=True)
            self.database_dir = None

    # -- client-server calls (blocking; tests call them from threads or between awaits) -------

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        params: dict[str, str] | None = None,
        raw: bytes | None = None,
        content_type: str | None = None,
    ) -> Any:
        """One request; raises RuntimeError with the body on an error status."""
        url = f"{self.url}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(url, data=data, method=method)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            request.add_header("Content-Type", content_type or "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"{method} {path}: {error.code} {error.read()[:500]!r}") from None
        return json.loads(payload) if payload else {}

    def register(self, username: str, admin: bool = False, password: str | None = None) -> tuple[str, str]:
        """Shared-secret registration; (user id, access token)."""
        password = password or secrets.token_hex(8)
        nonce = self.call("GET", "/_synapse/admin/v1/register")["nonce"]
        digest = hmac.new(
            self.secret.encode(),
            b"\x00".join(p.encode() for p in (nonce, username, password, "admin" if admin else "notadmin")),
            hashlib.sha1,
        )
        data = self.call(
            "POST",
            "/_synapse/admin/v1/register",
            body={
                "nonce": nonce,
                "username": username,
                "password": password,
                "admin": admin,
                "mac": digest.hexdigest(),
            },
        )
        self.users[data["user_id"]] = data["access_token"]
        return data["user_id"], data["access_token"]

    def register_member(self, name: str) -> tuple[str, str]:
        """A simulated member ``@member-<name>`` (needs ``simulated_members``); (user id, access token)."""
        if self.members_token is None:
            raise RuntimeError("start the homeserver with simulated_members=True")
        body = {"type": "m.login.application_service", "username": MEMBER_PREFIX + name}
        data = self.call("POST", "/_matrix/client/v3/register", self.members_token, body)
        self.users[data["user_id"]] = data["access_token"]
        return data["user_id"], data["access_token"]

    def create_room(
        self,
        token: str,
        invite: list[str] = (),
        name: str = "room",  # type: ignore[assignment]
        power: dict[str, int] | None = None,
        public: bool = True,
        events: dict[str, int] | None = None,
    ) -> str:
        """A room; returns its id. ``power``: user levels; ``events``: levels needed per event type."""
        body: dict[str, Any] = {
            "name": name,
            "invite": list(invite),
            "preset": "public_chat" if public else "private_chat",
        }
        override: dict[str, Any] = {}
        if power:
            override["users"] = power
        if events:
            override["events"] = events
        if override:
            body["power_level_content_override"] = override
        return str(self.call("POST", "/_matrix/client/v3/createRoom", token, body)["room_id"])

    def join(self, token: str, room: str) -> str:
        """Join by id or alias."""
        return str(self.call("POST", f"/_matrix/client/v3/join/{urllib.parse.quote(room)}", token, {})["room_id"])

    def send(self, token: str, room_id: str, content: dict[str, Any], event_type: str = "m.room.message") -> str:
        """Send an event; its id."""
        txn = secrets.token_hex(8)
        path = f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}/send/{event_type}/{txn}"
        return str(self.call("PUT", path, token, content)["event_id"])

    def text(self, token: str, room_id: str, body: str) -> str:
        """Send a plain text message."""
        return self.send(token, room_id, {"msgtype": "m.text", "body": body})

    def react(self, token: str, room_id: str, event_id: str, key: str) -> str:
        """Annotate an event."""
        return self.send(
            token,
            room_id,
            {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}},
            "m.reaction",
        )

    def redact(self, token: str, room_id: str, event_id: str) -> str:
        """Redact an event."""
        txn = secrets.token_hex(8)
        path = f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}/redact/{urllib.parse.quote(event_id)}/{txn}"
        return str(self.call("PUT", path, token, {})["event_id"])

    def upload(self, token: str, data: bytes, content_type: str, filename: str) -> str:
        """Upload media; its mxc URI."""
        return str(
            self.call(
                "POST",
                "/_matrix/media/v3/upload",
                token,
                raw=data,
                content_type=content_type,
                params={"filename": filename},
            )["content_uri"]
        )

    def messages(self, token: str, room_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """Newest events first."""
        path = f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}/messages"
        return list(self.call("GET", path, token, params={"dir": "b", "limit": str(limit)})["chunk"])
