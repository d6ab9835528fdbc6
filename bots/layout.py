"""A reply taken apart into what a multi-message post is made of, the same way on every platform.

Each platform's renderer packs these parts into its own messages under its own budget:
the headline (title and the first lines of text), the rest of the text, the listed
name/value rows (standings, most voted), and the track cards grouped by genre, each card
with the vote buttons that belong to it. Nothing here knows a platform's limits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from core.commands.declaration import Button, ButtonAction, Reply
from core.model import Track

Measure = Callable[[str], int]
ELLIPSIS = "…"
_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class CardItem:
    """A track card and the buttons that vote on (or open) it."""

    track: Track
    buttons: tuple[Button, ...]

    @property
    def votable(self) -> bool:
        """True when the card carries a vote control."""
        return any(b.action is ButtonAction.VOTE for b in self.buttons)


@dataclass(frozen=True)
class CardGroup:
    """Cards under one heading (a genre), in the reply's order."""

    heading: str | None
    cards: tuple[CardItem, ...]


@dataclass(frozen=True)
class Outline:
    """The parts of a reply, each kept whole."""

    title: str | None
    lines: tuple[str, ...]  # the text, line by line
    fields: tuple[tuple[str, str], ...]
    groups: tuple[CardGroup, ...]
    loose_buttons: tuple[Button, ...]  # buttons that belong to no card

    @property
    def card_count(self) -> int:
        """How many cards the outline holds."""
        return sum(len(g.cards) for g in self.groups)


def _owner(button: Button, cards: tuple[Track, ...]) -> int | None:
    for index, track in enumerate(cards):
        if f"track:{track.id}:" in button.value or button.value == f"track:{track.id}":
            return index
    return 0 if len(cards) == 1 else None


def outline(reply: Reply) -> Outline:
    """Split a reply into headline text, rows and cards grouped by genre (several genres only)."""
    owned: dict[int, list[Button]] = {}
    loose: list[Button] = []
    for button in reply.buttons:
        index = _owner(button, reply.cards)
        if index is None:
            loose.append(button)
        else:
            owned.setdefault(index, []).append(button)
    items = [CardItem(track, tuple(owned.get(i, ()))) for i, track in enumerate(reply.cards)]
    genres = list(dict.fromkeys(item.track.genre or "unsorted" for item in items))
    groups: list[CardGroup] = []
    if len(genres) <= 1:
        if items:
            groups.append(CardGroup(None, tuple(items)))
    else:
        for genre in genres:
            groups.append(CardGroup(genre, tuple(i for i in items if (i.track.genre or "unsorted") == genre)))
    lines = tuple(reply.text.split("\n")) if reply.text.strip() else ()
    return Outline(reply.title, lines, reply.fields, tuple(groups), tuple(loose))


def utf16_len(text: str) -> int:
    """Characters as Discord's clients count them (UTF-16 code units, never fewer than code points)."""
    return len(text.encode("utf-16-le")) // 2


def _safe_end(text: str, end: int) -> int:
    """An index at or before ``end`` that does not split a combining sequence or emoji joiner."""
    while 0 < end < len(text) and (
        unicodedata.combining(text[end]) or text[end] in "\u200d\ufe0f\ufe0e" or text[end - 1] == "\u200d"
    ):
        end -= 1
    return end


def cut(text: str, limit: int, measure: Measure = len, mark: str = ELLIPSIS) -> str:
    """At most ``limit`` units of ``text``, cut at a word boundary when one is near, marked when cut."""
    if measure(text) <= limit:
        return text
    room = limit - measure(mark)
    if room <= 0:
        return mark[: max(limit, 0)]
    # longest prefix that fits (binary search: measure is monotone in the prefix length)
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(text[:middle]) <= room:
            low = middle
        else:
            high = middle - 1
    end = _safe_end(text, low)
    spaces = [m.start() for m in _SPACE.finditer(text, 0, end + 1)]
    if spaces and spaces[-1] >= end * 2 // 3:  # a word boundary not too far back
        end = spaces[-1]
    return text[:end].rstrip() + mark


def pieces(text: str, limit: int, measure: Measure = len) -> Iterator[str]:
    """``text`` in consecutive pieces of at most ``limit`` units, split at word boundaries: nothing lost."""
    rest = text
    while measure(rest) > limit:
        head = cut(rest, limit, measure, mark="")
        if not head:  # cannot happen for limit >= 2, but never loop forever
            head = rest[: max(1, limit // 2)]
        yield head
        rest = rest[len(head) :].lstrip()
    if rest or not text:
        yield rest


def chunk_lines(
    lines: tuple[str, ...] | list[str], limit: int, measure: Measure = len, joiner: str = "\n"
) -> list[list[str]]:
    """Lines packed into pages of at most ``limit`` units (a line too long is split into pieces)."""
    pages: list[list[str]] = []
    page: list[str] = []
    used = 0
    for line in lines:
        for part in pieces(line, limit, measure):
            size = measure(part) + (measure(joiner) if page else 0)
            if page and used + size > limit:
                pages.append(page)
                page, used = [], 0
                size = measure(part)
            page.append(part)
            used += size
    if page:
        pages.append(page)
    return pages


def first_page(
    lines: tuple[str, ...] | list[str], limit: int, measure: Measure = len, joiner: str = "\n"
) -> tuple[list[str], list[str]]:
    """The lines that fit one page of ``limit`` units, and the rest (a first line too long is split)."""
    shown: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        size = measure(line) + (measure(joiner) if shown else 0)
        if used + size <= limit:
            shown.append(line)
            used += size
            continue
        if shown:
            return shown, list(lines[index:])
        head, *tail = list(pieces(line, limit, measure))
        return [head], [" ".join(tail), *lines[index + 1 :]] if tail else list(lines[index + 1 :])
    return shown, []
