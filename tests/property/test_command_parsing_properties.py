"""Chat command parsing: any text gives a command with typed arguments or a UsageError."""

from __future__ import annotations

import math
import shlex
from types import SimpleNamespace
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from core.commands.catalog import build_registry
from core.commands.declaration import Command, CommandRegistry, Param, ParamKind, Reply
from core.commands.parsing import convert_args, parse_chat, parse_duration, split_words
from core.errors import UsageError
from tests.property.strategies import PROPERTY_SETTINGS


async def _noop(_inv: Any) -> Reply:  # pragma: no cover - never called
    return Reply()


CHOICES = ("approval", "score")
REGISTRY = CommandRegistry(
    [
        Command(
            "round start",
            "start",
            _noop,
            (
                Param("theme", ParamKind.TEXT, "theme", rest=True),
                Param("submit", ParamKind.DURATION, "window", required=False),
                Param("ballot", ParamKind.CHOICE, "type", required=False, choices=CHOICES),
                Param("entries", ParamKind.INTEGER, "n", required=False),
                Param("weight", ParamKind.NUMBER, "w", required=False),
            ),
        ),
        Command(
            "vote",
            "vote",
            _noop,
            (Param("round", ParamKind.TEXT, "r"), Param("entry", ParamKind.INTEGER, "e")),
        ),
    ]
)
# The instance's real command table (handlers are never called here, so no app is needed).
REAL = build_registry(SimpleNamespace())  # type: ignore[arg-type]
UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}

words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
command_text = st.one_of(
    words,
    st.lists(
        st.one_of(
            st.sampled_from([*(c.name for c in REAL.all()), "--", "--score", "=", '"', "'", "\u201c", "#1"]),
            words,
        ),
        max_size=8,
    ).map(" ".join),
)


@PROPERTY_SETTINGS
@given(command_text)
@example('round start "unbalanced')
@example("vote 1 " + "9" * 5000)
@example("round start x --weight nan")
def test_any_text_is_a_command_or_a_usage_error(text: str) -> None:
    for registry in (REGISTRY, REAL):
        try:
            command, args = parse_chat(registry, text)
        except UsageError as error:
            assert str(error)
            continue
        assert registry.get(command.name) is command
        assert set(args) == {p.name for p in command.params}
        for param in command.params:
            value = args[param.name]
            if value is None or value == param.default:
                continue
            if param.kind is ParamKind.INTEGER:
                assert isinstance(value, int)
            elif param.kind in (ParamKind.NUMBER, ParamKind.DURATION):
                assert isinstance(value, float) and math.isfinite(value)
            elif param.kind is ParamKind.CHOICE:
                assert value in param.choices
            elif param.kind is ParamKind.TEXT:
                assert isinstance(value, str) and len(value) <= 4000


printable = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=30,
)


@PROPERTY_SETTINGS
@given(
    theme=st.lists(printable, min_size=1, max_size=5),
    submit=st.none() | st.integers(1, 5000),
    unit=st.sampled_from(sorted(UNITS)),
    ballot=st.none() | st.sampled_from(CHOICES),
    entries=st.none() | st.integers(-(10**9), 10**9),
    weight=st.none() | st.floats(-1e9, 1e9, allow_nan=False),
)
def test_typed_arguments_round_trip_through_chat_text(
    theme: list[str],
    submit: int | None,
    unit: str,
    ballot: str | None,
    entries: int | None,
    weight: float | None,
) -> None:
    parts = ["round", "start", *(shlex.quote(w) for w in theme)]
    if submit is not None:
        parts += ["--submit", f"{submit}{unit}"]
    if ballot is not None:
        parts += ["--ballot", ballot.upper()]
    if entries is not None:
        parts.append(f"--entries={entries}")
    if weight is not None:
        parts += ["--weight", repr(weight)]
    command, args = parse_chat(REGISTRY, " ".join(parts))
    assert command.name == "round start"
    assert args["theme"] == " ".join(w.strip() for w in theme).strip()
    assert args["submit"] == (None if submit is None else float(submit * UNITS[unit]))
    assert args["ballot"] == ballot and args["entries"] == entries and args["weight"] == weight


@PROPERTY_SETTINGS
@given(st.text(max_size=30))
@example("1" * 400 + "w")
@example("1e9999")
def test_a_duration_is_finite_seconds_or_a_usage_error(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except UsageError:
        return
    assert math.isfinite(seconds) and seconds >= 0


@PROPERTY_SETTINGS
@given(st.text(max_size=60))
def test_split_words_never_raises_anything_but_usage_error(text: str) -> None:
    try:
        assert isinstance(split_words(text), list)
    except UsageError:
        pass


@PROPERTY_SETTINGS
@given(
    st.dictionaries(
        st.sampled_from(["round", "entry", "other"]),
        st.none() | st.integers() | st.text(max_size=10) | st.floats() | st.booleans(),
        max_size=3,
    )
)
def test_values_from_other_adapters_are_checked_the_same_way(raw: dict[str, Any]) -> None:
    command = REGISTRY.get("vote")
    assert command is not None
    try:
        args = convert_args(command, raw)
    except UsageError:
        return
    assert isinstance(args["round"], str) and isinstance(args["entry"], int)
