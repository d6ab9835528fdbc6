"""The image's entry point and the compose files' settings, without a Docker engine."""

from __future__ import annotations

import importlib.util
import re
import tempfile
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from config import load_settings

ROOT = Path(__file__).resolve().parents[2]


def _entry() -> ModuleType:
    spec = importlib.util.spec_from_file_location("wavepool_entry", ROOT / "docker" / "wavepool_entry.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# what an operator of the single-instance file must set (its ${VAR:?message} variables)
OPERATOR_SET = {
    "WAVEPOOL_MATRIX_HOMESERVER": "https://matrix.example.org",
    "WAVEPOOL_MATRIX_USER_ID": "@wavepool:example.org",
    "WAVEPOOL_FEDERATION_ROOMS": "#wavepool-federation:example.org, !abc:example.net",
}


def _service_env(compose_file: str, service: str) -> dict[str, str]:
    compose = yaml.safe_load((ROOT / "docker" / compose_file).read_text())
    env = compose["services"][service]["environment"]

    def interpolate(match: re.Match[str]) -> str:  # ${VAR:-default} and ${VAR:?message}, as compose does
        name, kind, rest = match.groups()
        return rest if kind == "-" else OPERATOR_SET[name]

    return {k: re.sub(r"\$\{([A-Z_]+):([-?])([^}]*)\}", interpolate, str(v)) for k, v in env.items()}


@pytest.mark.parametrize(
    ("compose_file", "service"),
    [("compose.yaml", "alpha"), ("compose.yaml", "beta"), ("compose.single.yaml", "wavepool")],
)
def test_compose_environments_make_valid_settings(tmp_path: Path, compose_file: str, service: str) -> None:
    entry = _entry()
    env = {**_service_env(compose_file, service), "WAVEPOOL_MATRIX_ACCESS_TOKEN": "token"}
    config = tmp_path / "wavepool.toml"
    config.write_text(entry.render_config(env))
    settings = load_settings(config, environ={"WAVEPOOL_MATRIX_ACCESS_TOKEN": "token"})
    assert settings.http.host == "0.0.0.0"  # reachable through the published port
    assert settings.matrix.homeserver and settings.matrix.user_id
    assert settings.federation.rooms and all(room.startswith(("#", "!")) for room in settings.federation.rooms)


def test_listed_settings_and_quoting_survive_toml(tmp_path: Path) -> None:
    entry = _entry()
    env = {
        "WAVEPOOL_INSTANCE_NAME": 'say "hi" \\ ☃',
        "WAVEPOOL_FEDERATION_ROOMS": "#a:x.org, !b:y.org  #c:z",
        "WAVEPOOL_HTTP_HOST": "127.0.0.1",
        "WAVEPOOL_MATRIX_WATCH_ROOMS": "",
    }
    config = tmp_path / "wavepool.toml"
    config.write_text(entry.render_config(env))
    settings = load_settings(config, environ={})
    assert settings.instance.name == 'say "hi" \\ ☃'
    assert settings.federation.rooms == ("#a:x.org", "!b:y.org", "#c:z")
    assert settings.http.host == "127.0.0.1"
    assert settings.matrix.watch_rooms == ()


def test_token_files_fill_the_secret_variables(tmp_path: Path) -> None:
    entry = _entry()
    (tmp_path / "alpha.token").write_text("syt_secret\n")
    env = entry.secrets_from_files(
        {
            "WAVEPOOL_MATRIX_ACCESS_TOKEN_FILE": str(tmp_path / "alpha.token"),
            "WAVEPOOL_DISCORD_TOKEN": "set",
            "WAVEPOOL_DISCORD_TOKEN_FILE": "/nope",
        }
    )
    assert env["WAVEPOOL_MATRIX_ACCESS_TOKEN"] == "syt_secret"
    assert env["WAVEPOOL_DISCORD_TOKEN"] == "set"  # a variable set directly wins over its file
    with pytest.raises(entry.EntryError, match="init service"):
        entry.secrets_from_files({"WAVEPOOL_MATRIX_ACCESS_TOKEN_FILE": str(tmp_path / "missing.token")})


def test_a_config_file_of_the_operator_is_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = _entry()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    env = entry.prepare(["--config", "/etc/mine.toml", "run"], {"WAVEPOOL_INSTANCE_NAME": "x"})
    assert "WAVEPOOL_CONFIG" not in env
    env = entry.prepare(["run"], {"WAVEPOOL_CONFIG": "/etc/mine.toml"})
    assert env["WAVEPOOL_CONFIG"] == "/etc/mine.toml"
    env = entry.prepare(["run"], {"WAVEPOOL_INSTANCE_NAME": "x"})
    assert load_settings(Path(env["WAVEPOOL_CONFIG"]), environ={}).instance.name == "x"
