"""Replies as Discord messages, within Discord's limits by construction, never pinging anyone.

Every text goes through a ``MessageBudget`` that counts what Discord counts: characters
per embed part, 6000 across the embeds of one message, 10 embeds, 25 fields, 5 rows of 5
buttons, 2000 characters of content. Characters are counted as UTF-16 code units, which
is never fewer than Discord's count. A reply that does not fit one message becomes a
``Plan``: a short headline message and thread messages (text pages, pages of rows, cards
per genre), so every listed track keeps its card and its vote button.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import discord

from bots.discord.buttons import WavepoolButton
from bots.layout import CardItem, Outline, chunk_lines, cut, first_page, outline, utf16_len
from core.cards import VERDICT_MARK, card_fields
from core.commands.declaration import Button, ButtonAction, Reply
from core.model import Track
from core.replies import Dialect, localize, mentions_in

NO_MENTIONS = discord.AllowedMentions.none()
TITLE, DESCRIPTION, FIELD_NAME, FIELD_VALUE, FOOTER, CONTENT = 256, 4096, 256, 1024, 2048, 2000
TOTAL, MAX_FIELDS, MAX_EMBEDS, MAX_BUTTONS, MAX_ROWS, ROW_WIDTH = 6000, 25, 10, 25, 5, 5
BUTTON_LABEL, THREAD_NAME, NONCE = 80, 100, 25
HEADLINE_TEXT = 1500  # the headline stays short; the rest goes to the thread
CARD_TOTAL = 1800  # one card never takes more than this, so several fit a message
COLOURS = {"verified": 0x2ECC71, "declared": 0x3498DB, "quarantined": 0xE67E22, "rejected": 0xE74C3C}
INLINE = ("Shared by", "Genre", "Duration", "Loudness")

DIALECT = Dialect("/", discord_timestamps=True, discord_mentions=True)


def size(text: str | None) -> int:
    """Characters as counted against Discord's limits."""
    return utf16_len(text) if text else 0


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary with an ellipsis (never empty)."""
    return cut(text.strip() or "—", limit, size)


class MessageBudget:
    """What is left of one message's limits; every embed text is taken through it."""

    def __init__(self) -> None:
        self.left = TOTAL
        self.embeds = 0
        self.buttons: list[Button] = []

    def take(self, text: str, limit: int) -> str:
        """``text`` clipped to its own limit and to what is left of the message total."""
        taken = clip(text, max(1, min(limit, self.left)))
        self.left -= size(taken)
        return taken

    def fits(self, need: int, embeds: int = 1, buttons: tuple[Button, ...] = ()) -> bool:
        """True when an embed of ``need`` characters and its buttons still fit this message."""
        ids = {b.custom_id for b in self.buttons}
        return (
            self.embeds + embeds <= MAX_EMBEDS
            and need <= self.left
            and len(self.buttons) + len(buttons) <= MAX_BUTTONS
            and not any(b.custom_id in ids for b in buttons)
        )


def _card_parts(track: Track) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A card's title and fields, each within its own limit and the whole within ``CARD_TOTAL``.

    The pool address (the last field) is reserved first: it is how a card names its track.
    """
    title = clip(f"{VERDICT_MARK.get(track.verdict.value, '')} {track.title}", TITLE)
    rows = card_fields(track)[:MAX_FIELDS]
    last = rows[-1] if rows else None
    reserved = size(last[0]) + size(last[1]) if last else 0
    left = CARD_TOTAL - size(title) - reserved
    fields: list[tuple[str, str]] = []
    for name, value in rows[:-1]:
        if left < 40:
            break
        name = clip(name, min(FIELD_NAME, 40))
        value = clip(value, min(FIELD_VALUE, left - size(name)))
        left -= size(name) + size(value)
        fields.append((name, value))
    if last:
        fields.append((clip(last[0], FIELD_NAME), clip(last[1], FIELD_VALUE)))
    return title, tuple(fields)


def card_size(track: Track) -> int:
    """Characters a card takes of the message total."""
    title, fields = _card_parts(track)
    return size(title) + sum(size(n) + size(v) for n, v in fields)


def card_embed(track: Track, budget: MessageBudget, link: str | None = None) -> discord.Embed:
    """A track card, taken from the message budget (the caller checked it fits)."""
    title, fields = _card_parts(track)
    embed = discord.Embed(title=budget.take(title, TITLE), colour=COLOURS.get(track.verdict.value, 0x95A5A6))
    if link:
        embed.url = link
    for name, value in fields:
        if budget.left < 2:
            break
        embed.add_field(
            name=budget.take(name, FIELD_NAME), value=budget.take(value, FIELD_VALUE), inline=name in INLINE
        )
    budget.embeds += 1
    return embed


@dataclass
class Rendered:
    """One message: content, embeds, buttons."""

    content: str | None
    embeds: list[discord.Embed]
    buttons: list[Button] = field(default_factory=list)
    mentions: tuple[int, ...] = ()  # members this message may ping (named with ``core.replies.mention``)

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``send``/``followup.send``."""
        allowed = (
            discord.AllowedMentions(everyone=False, roles=False, users=[discord.Object(id=u) for u in self.mentions])
            if self.mentions
            else NO_MENTIONS
        )
        out: dict[str, Any] = {"embeds": self.embeds, "allowed_mentions": allowed}
        if self.content:
            out["content"] = self.content
        view = button_view(self.buttons)
        if view is not None:
            out["view"] = view
        return out


@dataclass
class Plan:
    """What one reply becomes: a headline message and the messages of its thread."""

    headline: Rendered
    thread: list[Rendered]
    thread_name: str

    @property
    def messages(self) -> list[Rendered]:
        """The headline, then the thread messages."""
        return [self.headline, *self.thread]


def _labelled(buttons: tuple[Button, ...], track: Track, many: bool) -> tuple[Button, ...]:
    """Buttons of a card among several say which track they vote on."""
    if not many:
        return buttons
    return tuple(Button(clip(f"{b.label} {track.title}", BUTTON_LABEL), b.action, b.value) for b in buttons)


def _single(reply: Reply, items: list[CardItem], link: str | None) -> Rendered | None:
    """The whole reply as one message, or None when any part would have to be cut or left out."""
    budget = MessageBudget()
    embeds: list[discord.Embed] = []
    content: str | None = None
    if reply.text and not (reply.title or reply.fields):
        if size(reply.text) > CONTENT:
            return None
        content = reply.text
    if reply.title or reply.fields:
        text = reply.text.strip()
        if (
            size(reply.title) > TITLE
            or size(text) > DESCRIPTION
            or len(reply.fields) > MAX_FIELDS
            or any(
                size(n) > FIELD_NAME or size(v) > FIELD_VALUE or not n.strip() or not v.strip() for n, v in reply.fields
            )
        ):
            return None
        need = size(reply.title or "Wavepool") + size(text) + sum(size(n) + size(v) for n, v in reply.fields)
        if need > budget.left:
            return None
        main = discord.Embed(
            title=budget.take(reply.title or "Wavepool", TITLE),
            description=budget.take(text, DESCRIPTION) if text else None,
            colour=0x9B59B6,
        )
        for name, value in reply.fields:
            main.add_field(name=budget.take(name, FIELD_NAME), value=budget.take(value, FIELD_VALUE), inline=False)
        budget.embeds += 1
        embeds.append(main)
    buttons: list[Button] = []
    for item in items:
        labelled = _labelled(item.buttons, item.track, len(items) > 1)
        if not budget.fits(card_size(item.track), 1, labelled):
            return None
        embeds.append(card_embed(item.track, budget, link))
        budget.buttons += labelled
    loose = [b for b in reply.buttons if not any(b in i.buttons for i in items)]
    buttons = budget.buttons + loose
    if len(buttons) > MAX_BUTTONS or len({b.custom_id for b in buttons}) != len(buttons):
        return None
    if content is None and not embeds and not buttons:
        content = "—"  # Discord refuses an empty message
    return Rendered(content, embeds, buttons)


def render(reply: Reply, link: str | None = None) -> Rendered:
    """The first message of the reply's plan (the whole reply when it fits one message)."""
    return plan(reply, link).headline


def plan(reply: Reply, link: str | None = None, more_at: str | None = None) -> Plan:
    """A reply as one message when it fits, else a headline plus thread messages; nothing dropped.
    Times are Discord timestamps (each member's own time zone) and hints slash commands."""
    pings = tuple(int(uid) for platform, uid, _ in mentions_in(reply.text) if platform == "discord" and uid.isdigit())
    reply = localize(reply, DIALECT)
    parts = outline(reply)
    items = [item for group in parts.groups for item in group.cards]
    name = clip(reply.title or (parts.lines[0] if parts.lines else "Wavepool"), THREAD_NAME)
    single = _single(reply, items, link)
    headline = single if single is not None else _headline(parts, link, more_at)
    if pings and headline.content and "<@" in headline.content:
        headline.mentions = pings  # only the member the text names: no @everyone, no roles
    return Plan(headline, [] if single is not None else _thread(parts, link), name)


def split_text(lines: tuple[str, ...], limit: int) -> tuple[list[str], list[str]]:
    """The lines the headline shows (at most ``limit`` characters) and the rest, split at words."""
    return first_page(lines, limit, size)


def _headline(parts: Outline, link: str | None, more_at: str | None) -> Rendered:
    budget = MessageBudget()
    shown, more = split_text(parts.lines, HEADLINE_TEXT)
    rest = len(more)
    notes = []
    if rest:
        notes.append(f"{rest} more line{'s' if rest != 1 else ''}")
    if parts.fields:
        notes.append(f"{len(parts.fields)} row{'s' if len(parts.fields) != 1 else ''}")
    if parts.card_count:
        notes.append(f"{parts.card_count} track card{'s' if parts.card_count != 1 else ''}")
    footer = "In the thread: " + ", ".join(notes) + "." if notes else None
    if more_at:
        footer = (footer + " " if footer else "") + f"Also at {more_at}"
    description = "\n".join(shown) or None
    main = discord.Embed(
        title=budget.take(parts.title or "Wavepool", TITLE),
        description=budget.take(description, DESCRIPTION) if description else None,
        colour=0x9B59B6,
    )
    if footer:
        main.set_footer(text=budget.take(footer, FOOTER))
    if link or more_at:
        main.url = link or more_at
    return Rendered(None, [main], list(parts.loose_buttons[:MAX_BUTTONS]))


def _thread(parts: Outline, link: str | None) -> list[Rendered]:
    out: list[Rendered] = []
    for page in chunk_lines(split_text(parts.lines, HEADLINE_TEXT)[1], DESCRIPTION, size):
        out.append(Rendered(None, [discord.Embed(description="\n".join(page), colour=0x9B59B6)]))
    out += _field_pages(parts.fields)
    for group in parts.groups:
        out += _card_messages(group.heading, group.cards, link)
    # loose buttons beyond one message's worth get messages of their own
    for start in range(MAX_BUTTONS, len(parts.loose_buttons), MAX_BUTTONS):
        out.append(Rendered("More:", [], list(parts.loose_buttons[start : start + MAX_BUTTONS])))
    return out


def _field_pages(fields: tuple[tuple[str, str], ...]) -> list[Rendered]:
    """Rows as embeds of up to 25 fields, as many embeds per message as fit."""
    out: list[Rendered] = []
    budget = MessageBudget()
    embeds: list[discord.Embed] = []
    embed: discord.Embed | None = None
    for name, value in fields:
        name, value = clip(name, FIELD_NAME), clip(value, FIELD_VALUE)
        need = size(name) + size(value)
        if embed is None or len(embed.fields) >= MAX_FIELDS or need > budget.left:
            if embed is not None and (need > budget.left or budget.embeds >= MAX_EMBEDS):
                out.append(Rendered(None, embeds))
                budget, embeds = MessageBudget(), []
            embed = discord.Embed(colour=0x9B59B6)
            embeds.append(embed)
            budget.embeds += 1
        embed.add_field(name=budget.take(name, FIELD_NAME), value=budget.take(value, FIELD_VALUE), inline=False)
    if embeds:
        out.append(Rendered(None, embeds))
    return out


def _card_messages(heading: str | None, items: tuple[CardItem, ...], link: str | None) -> list[Rendered]:
    """Cards packed into messages (10 embeds, 6000 characters, 25 buttons each), the heading on each."""
    out: list[Rendered] = []
    batches: list[list[CardItem]] = [[]]
    budget = MessageBudget()
    many = len(items) > 1
    for item in items:
        labelled = _labelled(item.buttons, item.track, many)
        need = card_size(item.track)
        if batches[-1] and not budget.fits(need, 1, labelled):
            batches.append([])
            budget = MessageBudget()
        batches[-1].append(item)
        budget.embeds += 1
        budget.left -= need
        budget.buttons += labelled
    for number, batch in enumerate(batches, start=1):
        if not batch:
            continue
        budget = MessageBudget()
        embeds = [card_embed(item.track, budget, link) for item in batch]
        buttons = [b for item in batch for b in _labelled(item.buttons, item.track, many)]
        content = None
        if heading:
            suffix = f" ({number}/{len(batches)})" if len(batches) > 1 else ""
            content = clip(f"**{heading}**{suffix}", CONTENT)
        out.append(Rendered(content, embeds, buttons))
    return out


def button_view(buttons: list[Button]) -> discord.ui.View | None:
    """A view of dynamic buttons: clicks are parsed from the custom id, so they survive restarts."""
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for index, button in enumerate(buttons[:MAX_BUTTONS]):
        view.add_item(WavepoolButton(button, row=index // ROW_WIDTH))
    return view


def nonce(key: str, index: int) -> str:
    """The message nonce of a delivery key's ``index``-th message (Discord allows 25 characters)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return f"{digest}{index}"[:NONCE]


def vote_values(rendered: Rendered) -> list[str]:
    """The vote button values a message carries."""
    return [b.value for b in rendered.buttons if b.action is ButtonAction.VOTE]
