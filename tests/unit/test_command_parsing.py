"""Chat text → command and typed arguments."""

from __future__ import annotations

import pytest

from core.commands.declaration import Command, CommandRegistry, Param, ParamKind, Reply
from core.commands.parsing import parse_chat, parse_duration
from core.errors import UsageError


async def _noop(_inv):  # pragma: no cover - never called
    return Reply()


REGISTRY = CommandRegistry(
    [
        Command(
            "round start",
            "start",
            _noop,
            (
                Param("theme", ParamKind.TEXT, "theme", rest=True),
                Param("submit", ParamKind.DURATION, "window", required=False),
                Param("ballot", ParamKind.CHOICE, "type", required=False, choices=("approval", "score")),
            ),
        ),
        Command(
            "round vote",
            "vote",
            _noop,
            (
                Param("round", ParamKind.TEXT, "r"),
                Param("entry", ParamKind.INTEGER, "e"),
                Param("value", ParamKind.INTEGER, "v", required=False),
            ),
        ),
        Command("help", "help", _noop, (Param("command", ParamKind.TEXT, "c", required=False, rest=True),)),
    ]
)


def test_group_rest_and_options() -> None:
    command, args = parse_chat(REGISTRY, 'round start "Night drive" at dawn --submit 2d --ballot SCORE')
    assert command.name == "round start"
    assert args == {"theme": "Night drive at dawn", "submit": 172800.0, "ballot": "score"}


def test_typed_positionals_and_errors() -> None:
    _, args = parse_chat(REGISTRY, "round vote 3 2 5")
    assert args == {"round": "3", "entry": 2, "value": 5}
    with pytest.raises(UsageError, match="whole number"):
        parse_chat(REGISTRY, "round vote 3 two")
    with pytest.raises(UsageError, match="needs <entry>"):
        parse_chat(REGISTRY, "round vote 3")
    with pytest.raises(UsageError, match="unknown command `dance`"):
        parse_chat(REGISTRY, "dance")
    with pytest.raises(UsageError, match="needs a subcommand"):
        parse_chat(REGISTRY, "round")
    with pytest.raises(UsageError, match="quotes"):
        parse_chat(REGISTRY, 'round start "unclosed')
    with pytest.raises(UsageError, match="one of"):
        parse_chat(REGISTRY, "round start x --ballot ranked")
    with pytest.raises(UsageError, match="no option --colour"):
        parse_chat(REGISTRY, "round start x --colour red")


def test_durations() -> None:
    assert parse_duration("90m") == 5400
    assert parse_duration("36h") == 129600
    assert parse_duration("2") == 120
    with pytest.raises(UsageError):
        parse_duration("soon")
