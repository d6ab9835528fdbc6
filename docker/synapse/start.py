"""Synapse for docker/compose.yaml: write its config on the first start, then run it.

Mounted into the Synapse image and run with its Python (``python start.py``), so the official
image and a locally built one behave the same. ``/data/homeserver.yaml`` (server name,
secrets, database) is written once and kept in the volume; ``/data/listener.yaml`` (port and
bind address from SYNAPSE_HTTP_PORT / SYNAPSE_BIND_ADDRESS) is rewritten on every start.
``python start.py --check`` is the container's health check.
"""

from __future__ import annotations

import os
import secrets
import sys
import urllib.request
from pathlib import Path
from typing import Any

DATA = Path(os.environ.get("SYNAPSE_DATA_DIR", "/data"))
CONFIG = DATA / "homeserver.yaml"
LISTENER = DATA / "listener.yaml"
PORT = int(os.environ.get("SYNAPSE_HTTP_PORT") or 8008)
BIND = os.environ.get("SYNAPSE_BIND_ADDRESS") or "0.0.0.0"
# Two bots federating post many events and uploads in bursts; the default limits are
# tuned for people and would throttle them.
BOT_RATE = {"per_second": 50, "burst_count": 200}


def first_config(server_name: str) -> dict[str, Any]:
    """The homeserver's lasting settings, with freshly generated secrets."""
    limits: dict[str, Any] = {
        name: dict(BOT_RATE)
        for name in ("rc_message", "rc_registration", "rc_room_creation", "rc_media_create", "rc_admin_redaction")
    }
    limits["rc_login"] = {"address": BOT_RATE, "account": BOT_RATE, "failed_attempts": BOT_RATE}
    limits["rc_joins"] = {"local": BOT_RATE, "remote": BOT_RATE}
    return {
        "server_name": server_name,
        "pid_file": str(DATA / "homeserver.pid"),
        "report_stats": False,
        "database": {"name": "sqlite3", "args": {"database": str(DATA / "homeserver.db")}},
        "media_store_path": str(DATA / "media_store"),
        "signing_key_path": str(DATA / "signing.key"),
        "registration_shared_secret": secrets.token_urlsafe(32),
        "macaroon_secret_key": secrets.token_urlsafe(32),
        "form_secret": secrets.token_urlsafe(32),
        "enable_registration": False,
        "suppress_key_server_warning": True,
        "trusted_key_servers": [],
        "presence": {"enabled": False},
        "max_upload_size": "100M",
        "url_preview_enabled": False,
        "user_directory": {"enabled": False},
        **limits,
    }


def write_configs() -> None:
    """homeserver.yaml and the signing key once; listener.yaml on every start."""
    import yaml  # Synapse depends on PyYAML and signedjson
    from signedjson.key import generate_signing_key, write_signing_keys

    DATA.mkdir(parents=True, exist_ok=True)
    if not CONFIG.exists():
        server_name = os.environ.get("SYNAPSE_SERVER_NAME") or "localhost"
        key_path = DATA / "signing.key"
        if not key_path.exists():
            with key_path.open("w") as handle:
                write_signing_keys(handle, [generate_signing_key("a_" + secrets.token_hex(2))])
        temp = CONFIG.with_suffix(".tmp")
        temp.write_text(yaml.safe_dump(first_config(server_name)))
        os.chmod(temp, 0o600)
        os.replace(temp, CONFIG)
        print(f"synapse: wrote {CONFIG} for server name {server_name}", flush=True)
    LISTENER.write_text(
        yaml.safe_dump(
            {
                "public_baseurl": f"http://127.0.0.1:{PORT}/",
                "listeners": [
                    {
                        "port": PORT,
                        "bind_addresses": [BIND],
                        "type": "http",
                        "tls": False,
                        "x_forwarded": False,
                        "resources": [{"names": ["client"], "compress": False}],
                    }
                ],
            }
        )
    )


def healthy() -> bool:
    """The homeserver answers /health on its port."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=4) as response:
            return response.status == 200
    except OSError:
        return False


def main() -> None:
    """Check health (``--check``), or write the configs and become Synapse."""
    if sys.argv[1:] == ["--check"]:
        sys.exit(0 if healthy() else 1)
    write_configs()
    os.chdir(DATA)
    # exec: Synapse becomes the container's main process and gets SIGTERM itself.
    os.execvp(sys.executable, [sys.executable, "-m", "synapse.app.homeserver", "-c", str(CONFIG), "-c", str(LISTENER)])


if __name__ == "__main__":
    main()
