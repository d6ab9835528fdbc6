"""Turn a TOML document and the environment into a validated ``Settings``.

Validation is generic over the dataclasses in ``config.settings``: unknown keys, wrong
types and bad values are refused with a message naming the key (``ingest.max_mb``).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from config.settings import ENV_SECRETS, Settings


class ConfigInvalid(ValueError):
    """The config file or environment is invalid; the message names the key."""


def default_data_dir(environ: typing.Mapping[str, str] | None = None) -> Path:
    """Per-user data directory when neither the config nor WAVEPOOL_DATA_DIR names one."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "wavepool"


def load_settings(path: Path | None = None, environ: typing.Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` (or nothing: embedded defaults), apply the environment, validate."""
    env = dict(os.environ if environ is None else environ)
    raw: dict[str, Any] = {}
    if path is None and env.get("WAVEPOOL_CONFIG"):
        path = Path(env["WAVEPOOL_CONFIG"])
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigInvalid(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigInvalid(f"config file {path} is not valid TOML: {err}") from None
    for env_name, dotted in ENV_SECRETS.items():
        if env.get(env_name):
            section, key = dotted.split(".", 1)
            raw.setdefault(section, {})[key] = env[env_name]
    settings: Settings = _build(Settings, raw, "")
    data_dir = settings.instance.data_dir
    if data_dir is None:
        data_dir = Path(env["WAVEPOOL_DATA_DIR"]) if env.get("WAVEPOOL_DATA_DIR") else default_data_dir(env)
    elif path is not None and not data_dir.is_absolute():
        data_dir = (Path(path).parent / data_dir).resolve()
    instance = dataclasses.replace(settings.instance, data_dir=data_dir.expanduser())
    settings = dataclasses.replace(settings, instance=instance)
    try:
        settings.validate()
    except ValueError as err:
        raise ConfigInvalid(str(err)) from None
    return settings


def _build(cls: Any, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigInvalid(f"{where or 'config'}: expected a table, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        name = f"{where}.{unknown[0]}" if where else unknown[0]
        raise ConfigInvalid(f"unknown key {name!r} (known: {', '.join(sorted(fields))})")
    values: dict[str, Any] = {}
    for name, value in raw.items():
        key = f"{where}.{name}" if where else name
        values[name] = _coerce(hints[name], value, key)
    try:
        return cls(**values)
    except ConfigInvalid:
        raise
    except (TypeError, ValueError) as err:
        raise ConfigInvalid(f"{where or 'config'}: {err}") from None


def _coerce(hint: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        return _coerce(non_none[0], value, key)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key)
    if hint is Path:
        _expect(isinstance(value, str), key, "a path (string)", value)
        return Path(value).expanduser()
    if hint is bool:
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        _expect(isinstance(value, bool), key, "true or false", value)
        return value
    if hint is int:
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        _expect(isinstance(value, int) and not isinstance(value, bool), key, "a whole number", value)
        return value
    if hint is float:
        _expect(isinstance(value, int | float) and not isinstance(value, bool), key, "a number", value)
        return float(value)
    if hint is str:
        _expect(isinstance(value, str), key, "a string", value)
        return value
    if origin is tuple:
        _expect(isinstance(value, list), key, "a list", value)
        return tuple(_coerce(args[0], item, f"{key}[{i}]") for i, item in enumerate(value))
    if origin is dict:
        _expect(isinstance(value, dict), key, "a table", value)
        return {str(k): _coerce(args[1], v, f"{key}.{k}") for k, v in value.items()}
    if origin is typing.Literal:
        _expect(value in args, key, "one of " + ", ".join(map(repr, args)), value)
        return value
    raise ConfigInvalid(f"{key}: unsupported setting type {hint!r}")  # a bug in settings.py


def _expect(ok: bool, key: str, what: str, value: Any) -> None:
    if not ok:
        raise ConfigInvalid(f"{key}: expected {what}, got {value!r}")


if __name__ == "__main__":  # python -m config.loading path.toml: check a config file
    try:
        print(load_settings(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
    except ConfigInvalid as err:
        sys.exit(f"config: {err}")
