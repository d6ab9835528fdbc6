"""Config loading: any file and environment give valid Settings or a ConfigInvalid naming the key."""

from __future__ import annotations

import dataclasses
import math
import tempfile
import typing
from pathlib import Path
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from config.loading import ConfigInvalid, load_settings
from config.settings import ENV_SECRETS, Settings
from tests.property.strategies import PROPERTY_SETTINGS

SECTIONS = {f.name: typing.get_type_hints(Settings)[f.name] for f in dataclasses.fields(Settings)}
KEYS = [(section, f.name) for section, cls in SECTIONS.items() for f in dataclasses.fields(cls)]

toml_scalars = st.one_of(
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            "-",
            "²",
            "٣",
            "1_000",
            " 7 ",
            "true",
            "yes",
            "127.0.0.1/32",
            "mon",
            "NORMAL",
            "json",
            "12:00",
            "Europe/Paris",
            "x" * 300,
        ]
    ),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8,
)


def _string(text: str) -> str:
    out = []
    for char in text:
        if char in '"\\' or ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml(value: Any) -> str:
    """A TOML value (inline tables for mappings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{_string(k)} = {toml(v)}" for k, v in value.items()) + "}"


def document(tables: dict[str, dict[str, Any]]) -> str:
    """A TOML document of ``[section]`` tables."""
    lines = []
    for section, values in tables.items():
        lines.append(f"[{section}]")
        lines += [f"{_string(k)} = {toml(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def _load(text: str, environ: dict[str, str] | None = None) -> Settings:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "wavepool.toml"
        path.write_text(text, encoding="utf-8")
        return load_settings(path, environ={"WAVEPOOL_DATA_DIR": folder, **(environ or {})})


config_tables = st.lists(st.tuples(st.sampled_from(KEYS), toml_values), max_size=6).map(
    lambda pairs: {s: {k: v for (s2, k), v in pairs if s2 == s} for (s, _), _ in pairs}
)


@PROPERTY_SETTINGS
@given(config_tables)
@example({"http": {"port": "²"}})
@example({"ingest": {"max_mb": 10**400}})
@example({"ingest": {"max_mb": float("nan")}})
@example({"links": {"allow_ranges": ["not a range"]}})
def test_any_config_is_settings_or_config_invalid(tables: dict[str, dict[str, Any]]) -> None:
    try:
        settings = _load(document(tables))
    except ConfigInvalid as error:
        assert str(error)
        return
    assert isinstance(settings, Settings)
    for section, values in tables.items():
        for key, value in values.items():
            loaded = getattr(getattr(settings, section), key)
            if isinstance(value, float) and isinstance(loaded, float):
                assert math.isfinite(loaded), f"{section}.{key} accepted {value}"


@PROPERTY_SETTINGS
@given(st.text(max_size=200))
@example("[instance]\nname = 1\n[instance]\n")
@example("x = 1")
def test_any_text_is_settings_or_config_invalid(text: str) -> None:
    try:
        _load(text)
    except ConfigInvalid:
        pass


@PROPERTY_SETTINGS
@given(st.sampled_from(KEYS), st.sampled_from([[1, 2], {"a": 1}, "not a number"]))
def test_a_wrong_type_is_reported_under_its_key(key: tuple[str, str], value: Any) -> None:
    section, name = key
    try:
        _load(document({section: {name: value}}))
    except ConfigInvalid as error:
        assert f"{section}.{name}" in str(error) or section in str(error)


@PROPERTY_SETTINGS
@given(st.dictionaries(st.sampled_from(sorted(ENV_SECRETS)), st.text(max_size=40)))
def test_any_secret_from_the_environment_loads_or_is_refused_clearly(
    environ: dict[str, str],
) -> None:
    try:
        settings = _load("", environ)
    except ConfigInvalid:
        return
    for name, value in environ.items():
        if value:
            section, key = ENV_SECRETS[name].split(".", 1)
            assert getattr(getattr(settings, section), key) is not None
