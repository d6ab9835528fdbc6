"""What the core answers and announces, platform-free: replies with cards and buttons.

A ``Reply`` is the neutral view of a result (text, track cards, buttons, fields); each
adapter's presenter renders it its own way (Discord embeds and components, Matrix HTML
and reactions, terminal text). A ``Post`` is a reply for a place of the community (a
genre's channel, a round's, the digest's).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.model import Track


class ButtonAction(enum.StrEnum):
    """What a button does; ``Button.value`` carries its argument."""

    VOTE = "vote"  # value: a ``VoteChoice``, encoded; ballot 0 withdraws.
    # Pressing the same ballot again withdraws it unless invocation.args["toggle"] is False
    # (Matrix reactions: adding is never a toggle; the redaction sends ballot "0").
    OPEN = "open"  # value: a URL or track ref


@dataclass(frozen=True)
class VoteChoice:
    """What a vote button (or a reaction mapped to one) means: a track approval, or a ballot
    for a round entry; ``value`` 0 withdraws. Encoded once for the platforms' button ids."""

    value: int
    track_id: str | None = None
    round_id: int | None = None
    entry: int | None = None

    @classmethod
    def track(cls, track_id: str, value: int = 1) -> VoteChoice:
        """An approval of a track outside rounds."""
        return cls(value, track_id=track_id)

    @classmethod
    def ballot(cls, round_id: int, entry: int, value: int) -> VoteChoice:
        """A ballot for a round entry."""
        return cls(value, round_id=round_id, entry=entry)

    def with_value(self, value: int) -> VoteChoice:
        """The same target with another ballot (0 withdraws)."""
        return VoteChoice(value, self.track_id, self.round_id, self.entry)

    def encode(self) -> str:
        """``track:<id>:<value>`` or ``round:<round>:<entry>:<value>`` (the button's value)."""
        if self.track_id is not None:
            return f"track:{self.track_id}:{self.value}"
        return f"round:{self.round_id}:{self.entry}:{self.value}"

    @classmethod
    def decode(cls, text: str) -> VoteChoice:
        """The choice a button value stands for; ValueError when it is not one."""
        parts = text.split(":")
        if parts[0] == "track" and len(parts) == 3 and parts[1]:
            return cls.track(parts[1], int(parts[2]))
        if parts[0] == "round" and len(parts) == 4:
            return cls.ballot(int(parts[1]), int(parts[2]), int(parts[3]))
        raise ValueError(f"not a vote: {text!r}")


@dataclass(frozen=True)
class Button:
    """A button under a reply; ``custom_id`` is stable so persistent views survive restarts."""

    label: str
    action: ButtonAction
    value: str  # for VOTE: ``VoteChoice.encode()``

    @classmethod
    def vote(cls, label: str, choice: VoteChoice) -> Button:
        """A vote button."""
        return cls(label, ButtonAction.VOTE, choice.encode())

    @property
    def custom_id(self) -> str:
        """Stable id: ``wp:<action>:<value>`` (at most 100 characters, Discord's limit)."""
        return f"wp:{self.action.value}:{self.value}"[:100]


@dataclass(frozen=True)
class Post:
    """An announcement for a place: a genre's channel, a round's, the digest's, the default one."""

    target: str  # "genre:<name>" | "round:<id>" | "digest" | "default"
    reply: Reply
    fallback: tuple[str, str] | None = None  # (platform, place) to use when nothing is configured there


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
    failed: bool = False  # the command was refused or went wrong; ``text`` says why
    fields: tuple[tuple[str, str], ...] = ()  # name/value pairs (embed fields, HTML table rows)
    data: Mapping[str, Any] = field(default_factory=dict)  # structured form (digest, results)


# -- text each platform writes its own way ----------------------------------------------
# Views write deadlines and command hints as markers; each presenter renders them with
# ``localize`` in its platform's syntax (Discord timestamps and slash commands, Matrix
# text and the ``!wp`` prefix, the terminal's ``wavepool cmd``).

_MARK = re.compile(r"\u27e6(t|cmd|at):([^\u27e7]*)\u27e7")
_UNIT = "\u241f"  # separates a mention marker's platform, user id and name


def moment(when: datetime) -> str:
    """A point in time inside reply text, rendered by each platform (relative and absolute)."""
    return f"\u27e6t:{int(when.replace(tzinfo=when.tzinfo or UTC).timestamp())}\u27e7"


def command_hint(command: str) -> str:
    """A command a member may run next (``round submit 2 <track>``), in each platform's syntax."""
    return f"\u27e6cmd:{command}\u27e7"


def mention(platform: str, user_id: str, name: str) -> str:
    """A member named in reply text: a mention on their own platform (Discord ``<@id>``, a Matrix
    pill), their name everywhere else."""
    parts = (platform, user_id, name)
    clean = [p.replace("\u27e6", "").replace("\u27e7", "").replace(_UNIT, "") for p in parts]
    return f"\u27e6at:{_UNIT.join(clean)}\u27e7"


def mentions_in(text: str) -> list[tuple[str, str, str]]:
    """The (platform, user id, name) of every mention marker in a text."""
    out = []
    for match in _MARK.finditer(text):
        fields = match.group(2).split(_UNIT)
        if match.group(1) == "at" and len(fields) == 3:
            out.append((fields[0], fields[1], fields[2]))
    return out


def relative(when: datetime, now: datetime) -> str:
    """``in 4 min`` / ``3 h ago``: the distance from ``now``, in words."""
    seconds = (when - now).total_seconds()
    size = abs(seconds)
    if size < 60:
        amount = f"{int(size)} s"
    elif size < 3600:
        amount = f"{int(size // 60)} min"
    elif size < 86400 * 2:
        hours, minutes = divmod(int(size // 60), 60)
        amount = f"{hours} h {minutes} min" if minutes else f"{hours} h"
    else:
        amount = f"{int(size // 86400)} days"
    return f"in {amount}" if seconds >= 0 else f"{amount} ago"


@dataclass(frozen=True)
class Dialect:
    """How a platform writes times and commands."""

    command_prefix: str  # "/" on Discord, "!wp " on Matrix, "wavepool cmd " on the terminal
    discord_timestamps: bool = False
    now: datetime | None = None  # for relative times; the current time when None
    discord_mentions: bool = False  # write a Discord member's mention marker as ``<@id>``


def localize_text(text: str, dialect: Dialect) -> str:
    """Text with its time and command markers written in the platform's syntax."""
    if "\u27e6" not in text:
        return text
    now = dialect.now or datetime.now(UTC)

    def one(match: re.Match[str]) -> str:
        kind, value = match.group(1), match.group(2)
        if kind == "cmd":
            return f"{dialect.command_prefix}{value}"
        if kind == "at":
            platform, user_id, name = (value.split(_UNIT) + ["", "", ""])[:3]
            discord_id = dialect.discord_mentions and platform == "discord" and user_id.isdigit()
            return f"<@{user_id}>" if discord_id else name
        stamp = int(value)
        if dialect.discord_timestamps:
            return f"<t:{stamp}:f> (<t:{stamp}:R>)"
        when = datetime.fromtimestamp(stamp, UTC)
        day = "" if when.date() == now.date() else f"{when:%Y-%m-%d} "
        return f"{relative(when, now)} ({day}{when:%H:%M:%S} UTC)"

    return _MARK.sub(one, text)


def localize(reply: Reply, dialect: Dialect) -> Reply:
    """The reply with every marker in its text, title and fields rendered for one platform."""
    return replace(
        reply,
        text=localize_text(reply.text, dialect),
        title=localize_text(reply.title, dialect) if reply.title else reply.title,
        fields=tuple((localize_text(k, dialect), localize_text(v, dialect)) for k, v in reply.fields),
    )
