"""Turning text into typed arguments: ``!wp round start "Night drive" --genre synthwave``.

Chat adapters hand the words after the prefix to ``parse_chat``; Discord hands option
values (already typed by Discord) and the command line hands strings to ``convert_args``.
Both end with the same validated ``args`` mapping, so handlers never parse anything.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping
from typing import Any

from core.commands.declaration import Command, CommandRegistry, Param, ParamKind
from core.errors import UsageError
from core.replies import command_hint

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*$", re.IGNORECASE)
MAX_DURATION_S = 100 * 31_536_000  # past this, datetime arithmetic overflows long before
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """``"90m"`` → 5400.0 seconds; a bare number means minutes."""
    match = _DURATION.match(text)
    if not match:
        raise UsageError(f"'{text}' is not a duration; write e.g. 90m, 36h or 2d")
    unit = (match.group(2) or "m").lower()
    seconds = float(match.group(1)) * _UNIT_SECONDS[unit]
    if not math.isfinite(seconds) or seconds > MAX_DURATION_S:
        raise UsageError(f"'{text[:40]}' is too long a duration (at most {MAX_DURATION_S // 31_536_000} years)")
    return seconds


def split_words(text: str) -> list[str]:
    """Shell-like split that tolerates typographic quotes and reports unbalanced ones."""
    text = text.replace("\u201c", '"').replace("\u201d", '"').replace("\u2018", "'")
    text = text.replace("\u2019", "'")
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"could not read the command: {exc} (check your quotes)") from exc


def find_command(registry: CommandRegistry, words: list[str]) -> tuple[Command, list[str]]:
    """The command named by the first one or two words, and the words left over."""
    if not words:
        raise UsageError(f"no command given; try `{command_hint('help')}`")
    first = words[0].lower()
    if len(words) >= 2:
        two = registry.get(f"{first} {words[1].lower()}")
        if two is not None:
            return two, words[2:]
    one = registry.get(first)
    if one is not None:
        return one, words[1:]
    group = registry.groups().get(first)
    if group:
        names = ", ".join(c.leaf for c in group)
        raise UsageError(f"`{first}` needs a subcommand: {names}")
    raise UsageError(f"unknown command `{first}`; try `{command_hint('help')}`")


def parse_chat(registry: CommandRegistry, text: str) -> tuple[Command, dict[str, Any]]:
    """Parse the words after the prefix into a command and its typed arguments.

    Positional words fill required parameters in order; ``--name value`` (or
    ``name=value``) sets any parameter; a ``rest`` parameter takes the remaining words.
    """
    command, words = find_command(registry, split_words(text))
    raw: dict[str, Any] = {}
    positional: list[str] = []
    index = 0
    by_name = {p.name: p for p in command.params}
    while index < len(words):
        word = words[index]
        if word.startswith("--") and len(word) > 2:
            name = word[2:]
            if "=" in name:
                name, value = name.split("=", 1)  # before the dash rewrite: --score=-1 keeps its sign
            elif index + 1 < len(words):
                index += 1
                value = words[index]
            else:
                raise UsageError(f"--{name} needs a value")
            name = name.replace("-", "_")
            if name not in by_name:
                raise UsageError(f"`{command.name}` has no option --{name}{_usage_hint(command)}")
            raw[name] = value
        else:
            positional.append(word)
        index += 1
    free = [p for p in command.params if p.name not in raw and p.kind is not ParamKind.ATTACHMENT]
    for param in free:
        if not positional:
            break
        if param.rest or (param is free[-1] and param.kind is ParamKind.TEXT):
            raw[param.name] = " ".join(positional)
            positional = []
            break
        raw[param.name] = positional.pop(0)
    if positional:
        raise UsageError(f"too many words: {' '.join(positional)}{_usage_hint(command)}")
    return command, convert_args(command, raw)


def convert_args(command: Command, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Check and type every argument; fill defaults; name the missing or bad one."""
    out: dict[str, Any] = {}
    known = {p.name for p in command.params}
    for name in raw:
        if name not in known:
            raise UsageError(f"`{command.name}` has no parameter `{name}`")
    for param in command.params:
        value = raw.get(param.name)
        if value is None or value == "":
            if param.required and param.kind is not ParamKind.ATTACHMENT:
                raise UsageError(f"`{command.name}` needs <{param.name}>{_usage_hint(command)}")
            out[param.name] = param.default
            continue
        out[param.name] = _convert(command, param, value)
    return out


def _convert(command: Command, param: Param, value: Any) -> Any:
    kind = param.kind
    if kind is ParamKind.INTEGER:
        try:
            return int(value)
        except (TypeError, ValueError, OverflowError):
            raise UsageError(f"<{param.name}> must be a whole number, not '{value}'") from None
    if kind is ParamKind.NUMBER:
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise UsageError(f"<{param.name}> must be a number, not '{value}'") from None
        if not math.isfinite(number):  # "nan" and "inf" parse as floats but rank and compare as nonsense
            raise UsageError(f"<{param.name}> must be a finite number, not '{value}'")
        return number
    if kind is ParamKind.DURATION:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return parse_duration(str(value))
        if not math.isfinite(value) or not 0 <= value <= MAX_DURATION_S:
            raise UsageError(f"<{param.name}> must be a duration between 0 and {MAX_DURATION_S // 31_536_000} years")
        return value
    if kind is ParamKind.CHOICE:
        text = str(value).strip().lower()
        if text not in param.choices:
            raise UsageError(f"<{param.name}> must be one of: {', '.join(param.choices)}")
        return text
    if kind is ParamKind.ATTACHMENT:
        return value
    text = str(value).strip()
    if len(text) > 4000:
        raise UsageError(f"<{param.name}> is too long (at most 4000 characters)")
    return text


def usage(command: Command, attachments: bool = True) -> str:
    """One line: ``round vote <round> <entry> [--score N]``; ``attachments`` False where a
    command cannot carry a file (Matrix: a reply to the audio message does it instead)."""
    parts = [command.name]
    for param in command.params:
        if param.kind is ParamKind.ATTACHMENT:
            if attachments:
                parts.append(f"[attach {param.name}]")
        elif param.required:
            parts.append(f"<{param.name}>")
        else:
            parts.append(f"[--{param.name} …]")
    return " ".join(parts)


def _usage_hint(command: Command) -> str:
    return f" — usage: `{command_hint(usage(command))}`"
