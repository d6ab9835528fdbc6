"""What a command is: name, help, typed parameters, permission, and an async handler.

The Discord adapter turns each ``Command`` into a slash command, the Matrix adapter parses
``!wp <name> <args>`` into the same parameters, and the command line calls it directly.
Handlers take an ``Invocation`` and return a ``Reply``; errors a member can cause are
``core.errors`` subclasses whose message the adapters show as they are.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from core.replies import Button, ButtonAction, Post, Reply

__all__ = [
    "Attachment",
    "Button",
    "ButtonAction",
    "Command",
    "CommandRegistry",
    "Invocation",
    "Param",
    "PlaceChecker",
    "ParamKind",
    "Permission",
    "Post",
    "Reply",
]


class Permission(enum.IntEnum):
    """Who may run a command; higher includes lower."""

    MEMBER = 0
    MODERATOR = 1
    OPERATOR = 2


class ParamKind(enum.StrEnum):
    """The type of a parameter, which each adapter maps to its own widgets."""

    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    CHOICE = "choice"  # one of ``choices``
    TRACK = "track"  # a track id, CID or prefix; Discord autocompletes the member's tracks
    ATTACHMENT = "attachment"  # an uploaded file
    USER = "user"  # a member of the platform
    DURATION = "duration"  # "2d", "36h", "90m"; parsed by core.commands.parsing


@dataclass(frozen=True)
class Param:
    """One typed parameter of a command."""

    name: str
    kind: ParamKind
    help: str
    required: bool = True
    choices: tuple[str, ...] = ()
    default: Any = None
    autocomplete: str | None = None  # name of an autocomplete source: genres|rounds|my_tracks|prompts
    rest: bool = False  # TEXT only: takes the rest of the line in chat (e.g. a prompt)


@dataclass(frozen=True)
class Attachment:
    """A file that came with the invocation, already downloaded by the adapter."""

    filename: str
    path: Path
    size: int
    content_type: str | None = None
    source_url: str | None = None  # where the platform served it (for the record)


@dataclass(frozen=True)
class Invocation:
    """Who runs a command, where, on which platform, with what."""

    platform: str  # discord | matrix | cli
    user_id: str
    display_name: str
    place: str  # channel / room id, or "cli"
    permission: Permission  # what the adapter established for this user in this place
    args: Mapping[str, Any] = field(default_factory=dict)  # parsed, by Param.name
    attachments: tuple[Attachment, ...] = ()
    account_age_days: float | None = None  # platform account / membership age, if known
    roles: tuple[str, ...] = ()  # platform role names / ids, if any
    message_ref: str | None = None  # link or id of the message that carried the command
    acted_at: datetime | None = None  # when the member acted, if the platform says (Matrix origin_server_ts)
    places: PlaceChecker | None = None  # the adapter's check of a place it is asked to post to


class PlaceChecker(Protocol):
    """What an adapter knows about places: it resolves ``here``, aliases and names to the id
    it posts to, and refuses (``UsageError``) a place it cannot post in."""

    async def check(self, place: str, current: str) -> str:
        """The id of the place the bot can post to; ``current`` is the place of the command."""
        ...

    async def name(self, place: str) -> str:
        """How members read a place id (``#music``), for replies."""
        ...


Handler = Callable[[Invocation], Awaitable[Reply]]
ButtonHandler = Callable[[Invocation, str], Awaitable[Reply]]
"""Runs a pressed button (or a reaction mapped to one) with the button's value."""
Suggestion = tuple[str, str]
"""An autocomplete choice: (label shown, value sent)."""
AutocompleteSource = Callable[[Invocation, str], Awaitable[Sequence[Suggestion]]]


@dataclass(frozen=True)
class Command:
    """A command declared once: ``name`` may have a group, e.g. ``prompt save``."""

    name: str
    help: str
    handler: Handler
    params: tuple[Param, ...] = ()
    permission: Permission = Permission.MEMBER

    @property
    def group(self) -> str | None:
        """The first word of a two-word name (``prompt`` of ``prompt save``)."""
        parts = self.name.split(" ", 1)
        return parts[0] if len(parts) == 2 else None

    @property
    def leaf(self) -> str:
        """The last word of the name."""
        return self.name.split(" ")[-1]


class CommandRegistry:
    """The set of declared commands, looked up by full name."""

    def __init__(self, commands: Sequence[Command] = ()) -> None:
        self._commands: dict[str, Command] = {}
        self._buttons: dict[ButtonAction, ButtonHandler] = {}
        self._autocomplete: dict[str, AutocompleteSource] = {}
        for command in commands:
            self.add(command)

    def on_button(self, action: ButtonAction, handler: ButtonHandler) -> None:
        """Declare what pressing a button of ``action`` does."""
        self._buttons[action] = handler

    def button_handler(self, action: ButtonAction) -> ButtonHandler | None:
        """The handler of a button action, or None."""
        return self._buttons.get(action)

    def add_autocomplete(self, name: str, source: AutocompleteSource) -> None:
        """Declare an autocomplete source that ``Param.autocomplete`` can name."""
        self._autocomplete[name] = source

    async def suggest(self, name: str, invocation: Invocation, text: str) -> list[Suggestion]:
        """At most 25 suggestions from the named source (empty when it is unknown)."""
        source = self._autocomplete.get(name)
        if source is None:
            return []
        return list(await source(invocation, text))[:25]

    def add(self, command: Command) -> None:
        """Declare a command; names are unique."""
        if command.name in self._commands:
            raise ValueError(f"command declared twice: {command.name}")
        self._commands[command.name] = command

    def get(self, name: str) -> Command | None:
        """A command by full name, or None."""
        return self._commands.get(name)

    def all(self) -> list[Command]:
        """Every command, sorted by name."""
        return sorted(self._commands.values(), key=lambda c: c.name)

    def groups(self) -> dict[str | None, list[Command]]:
        """Commands by group (None for top-level ones)."""
        out: dict[str | None, list[Command]] = {}
        for command in self.all():
            out.setdefault(command.group, []).append(command)
        return out
