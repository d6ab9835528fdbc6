"""What the core answers and announces, platform-free: replies with cards and buttons.

A ``Reply`` is the neutral view of a result (text, track cards, buttons, fields); each
adapter's presenter renders it its own way (Discord embeds and components, Matrix HTML
and reactions, terminal text). A ``Post`` is a reply for a place of the community (a
genre's channel, a round's, the digest's).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.model import Track


class ButtonAction(enum.StrEnum):
    """What a button does; ``Button.value`` carries its argument."""

    VOTE = "vote"  # value: "track:<id>:<ballot>" or "round:<rid>:<entry>:<ballot>"; ballot "0" withdraws.
    # Pressing the same ballot again withdraws it unless invocation.args["toggle"] is False
    # (Matrix reactions: adding is never a toggle; the redaction sends ballot "0").
    OPEN = "open"  # value: a URL or track ref


@dataclass(frozen=True)
class Button:
    """A button under a reply; ``custom_id`` is stable so persistent views survive restarts."""

    label: str
    action: ButtonAction
    value: str

    @property
    def custom_id(self) -> str:
        """Stable id: ``wp:<action>:<value>`` (at most 100 characters, Discord's limit)."""
        return f"wp:{self.action.value}:{self.value}"[:100]


@dataclass(frozen=True)
class Post:
    """An announcement for a place: a genre's channel, a round's, the digest's, the default one."""

    target: str  # "genre:<name>" | "round:<id>" | "digest" | "default"
    reply: Reply


@dataclass(frozen=True)
class Reply:
    """What a command answers: text, track cards, buttons, files.

    A command never posts elsewhere itself: what the community should see (a new track in
    its genre channel, a round's phase) comes from the events the services record."""

    text: str = ""
    title: str | None = None
    cards: tuple[Track, ...] = ()
    buttons: tuple[Button, ...] = ()
    files: tuple[Path, ...] = ()
    private: bool = False  # visible to the caller only (ephemeral) where the platform can
    fields: tuple[tuple[str, str], ...] = ()  # name/value pairs (embed fields, HTML table rows)
    data: Mapping[str, Any] = field(default_factory=dict)  # structured form (digest, results)
