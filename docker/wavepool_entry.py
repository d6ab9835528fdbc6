#!/opt/wavepool/venv/bin/python
"""The image's ``wavepool`` command: secrets and settings from the environment, then the real one.

Installed as /usr/local/bin/wavepool, ahead of the package's own console script on PATH, so
the container's command and every ``docker compose exec <service> wavepool ...`` see the
same configuration:

- ``WAVEPOOL_MATRIX_ACCESS_TOKEN_FILE`` (and ``..._PASSWORD_FILE``, ``WAVEPOOL_DISCORD_TOKEN_FILE``)
  name files whose content becomes ``WAVEPOOL_MATRIX_ACCESS_TOKEN`` etc. when that variable
  is not set itself: the compose file's init service hands tokens over that way, and Docker
  secrets work the same.
- Without ``--config`` or ``WAVEPOOL_CONFIG``, the settings below are read from ``WAVEPOOL_*``
  variables and written to a TOML file the real command reads; the HTTP server listens on
  0.0.0.0 unless ``WAVEPOOL_HTTP_HOST`` says otherwise.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

REAL_COMMAND = "/opt/wavepool/venv/bin/wavepool"
SECRET_VARIABLES = ("WAVEPOOL_MATRIX_ACCESS_TOKEN", "WAVEPOOL_MATRIX_PASSWORD", "WAVEPOOL_DISCORD_TOKEN")
LIST = "list"
# variable -> (table, key, kind); kind LIST takes names separated by commas or spaces
SETTING_VARIABLES: dict[str, tuple[str, str, str]] = {
    "WAVEPOOL_INSTANCE_NAME": ("instance", "name", "str"),
    "WAVEPOOL_COMMUNITY": ("instance", "community", "str"),
    "WAVEPOOL_LOG_FORMAT": ("instance", "log_format", "str"),
    "WAVEPOOL_LOG_LEVEL": ("instance", "log_level", "str"),
    "WAVEPOOL_HTTP_HOST": ("http", "host", "str"),
    "WAVEPOOL_PUBLIC_URL": ("http", "public_url", "str"),
    "WAVEPOOL_MATRIX_HOMESERVER": ("matrix", "homeserver", "str"),
    "WAVEPOOL_MATRIX_USER_ID": ("matrix", "user_id", "str"),
    "WAVEPOOL_MATRIX_WATCH_ROOMS": ("matrix", "watch_rooms", LIST),
    "WAVEPOOL_FEDERATION_ROOMS": ("federation", "rooms", LIST),
    "WAVEPOOL_DISCORD_APPLICATION_ID": ("discord", "application_id", "str"),
    "WAVEPOOL_DISCORD_WATCH_CHANNELS": ("discord", "watch_channels", LIST),
    "WAVEPOOL_DISCORD_MODERATOR_ROLE": ("discord", "moderator_role", "str"),
}
# A container's port is only reachable from outside when the server listens on every address.
DEFAULTS = {"WAVEPOOL_HTTP_HOST": "0.0.0.0"}


class EntryError(Exception):
    """A setting the container cannot start with; the message says which."""


def secrets_from_files(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment with each ``X_FILE`` secret read into ``X`` (unless ``X`` is set)."""
    env = dict(environ)
    for name in SECRET_VARIABLES:
        path = env.get(f"{name}_FILE")
        if env.get(name) or not path:
            continue
        try:
            env[name] = Path(path).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise EntryError(
                f"{name}_FILE names {path}, which cannot be read ({error.strerror}); "
                "with docker/compose.yaml the init service writes it: see its log"
            ) from None
    return env


def _toml_string(value: str) -> str:
    # A JSON string without ASCII escapes is a valid TOML basic string.
    return json.dumps(value, ensure_ascii=False)


def render_config(environ: Mapping[str, str]) -> str:
    """The TOML document the ``WAVEPOOL_*`` setting variables describe."""
    tables: dict[str, list[str]] = {}
    for name, (table, key, kind) in SETTING_VARIABLES.items():
        value = environ.get(name) or DEFAULTS.get(name)
        if not value:
            continue
        if kind == LIST:
            items = [item for item in value.replace(",", " ").split() if item]
            rendered = "[" + ", ".join(_toml_string(item) for item in items) + "]"
        else:
            rendered = _toml_string(value)
        tables.setdefault(table, []).append(f"{key} = {rendered}")
    lines = ["# Written by the container's entry point from WAVEPOOL_* variables; edits are lost."]
    for table, entries in tables.items():
        lines += ["", f"[{table}]", *entries]
    return "\n".join(lines) + "\n"


def write_config(text: str) -> Path:
    """Write the rendered config atomically (the instance and an exec may write it at once)."""
    path = Path(tempfile.gettempdir()) / f"wavepool-{os.getuid()}.toml"
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".wavepool-", suffix=".toml")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temp, path)
    return path


def prepare(argv: list[str], environ: Mapping[str, str]) -> dict[str, str]:
    """The environment the real command runs with."""
    env = secrets_from_files(environ)
    has_config = bool(env.get("WAVEPOOL_CONFIG")) or any(a == "--config" or a.startswith("--config=") for a in argv)
    if not has_config:
        env["WAVEPOOL_CONFIG"] = str(write_config(render_config(env)))
    return env


def main() -> None:
    """Prepare the environment and replace this process with the real ``wavepool``."""
    argv = sys.argv[1:]
    try:
        env = prepare(argv, os.environ)
    except EntryError as error:
        sys.stderr.write(f"wavepool: {error}\n")
        raise SystemExit(2) from None
    os.execve(REAL_COMMAND, [REAL_COMMAND, *argv], env)


if __name__ == "__main__":
    main()
