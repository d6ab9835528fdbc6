"""Replies as Discord messages: embeds within Discord's limits, buttons, no mentions ever."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import discord

from bots.discord.buttons import WavepoolButton
from core.cards import VERDICT_MARK, card_fields
from core.commands.declaration import Button, Reply
from core.model import Track

NO_MENTIONS = discord.AllowedMentions.none()
TITLE, DESCRIPTION, FIELD_NAME, FIELD_VALUE, FOOTER, CONTENT = 256, 4096, 256, 1024, 2048, 2000
TOTAL, MAX_FIELDS, MAX_EMBEDS, MAX_BUTTONS = 6000, 25, 10, 25
COLOURS = {"verified": 0x2ECC71, "declared": 0x3498DB, "quarantined": 0xE67E22, "rejected": 0xE74C3C}


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, ending in an ellipsis when cut (never empty)."""
    text = text.strip() or "—"
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class _Budget:
    """Discord's 6000-character total across the embeds of one message."""

    def __init__(self) -> None:
        self.left = TOTAL

    def take(self, text: str, limit: int) -> str:
        cut = clip(text, max(1, min(limit, self.left)))
        self.left -= len(cut)
        return cut


def card_embed(track: Track, budget: _Budget, link: str | None = None) -> discord.Embed:
    """A track card."""
    embed = discord.Embed(title=budget.take(f"{VERDICT_MARK.get(track.verdict.value, '')} {track.title}", TITLE),
                          colour=COLOURS.get(track.verdict.value, 0x95A5A6))
    if link:
        embed.url = link
    for name, value in card_fields(track)[:MAX_FIELDS]:
        if budget.left < 40:
            break
        embed.add_field(name=budget.take(name, FIELD_NAME), value=budget.take(value, FIELD_VALUE),
                        inline=name in ("Shared by", "Genre", "Duration", "Loudness"))
    return embed


@dataclass
class Rendered:
    """What to send: content, embeds, buttons."""

    content: str | None
    embeds: list[discord.Embed]
    buttons: list[Button] = field(default_factory=list)

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``send``/``followup.send``."""
        out: dict[str, Any] = {"embeds": self.embeds, "allowed_mentions": NO_MENTIONS}
        if self.content:
            out["content"] = self.content
        view = button_view(self.buttons)
        if view is not None:
            out["view"] = view
        return out


def render(reply: Reply, link: str | None = None) -> Rendered:
    """A reply as content + embeds, every text within Discord's limits."""
    budget = _Budget()
    embeds: list[discord.Embed] = []
    content = clip(reply.text, CONTENT) if reply.text and not (reply.title or reply.fields) else None
    if reply.title or reply.fields:
        main = discord.Embed(title=budget.take(reply.title or "Wavepool", TITLE),
                             description=budget.take(reply.text, DESCRIPTION) if reply.text else None,
                             colour=0x9B59B6)
        for name, value in reply.fields[:MAX_FIELDS]:
            if budget.left < 40:
                break
            main.add_field(name=budget.take(name, FIELD_NAME), value=budget.take(value, FIELD_VALUE), inline=False)
        embeds.append(main)
    for track in reply.cards:
        if len(embeds) >= MAX_EMBEDS or budget.left < 100:
            break
        embeds.append(card_embed(track, budget, link))
    return Rendered(content, embeds, list(reply.buttons[:MAX_BUTTONS]))


def button_view(buttons: list[Button]) -> discord.ui.View | None:
    """A view of dynamic buttons: clicks are parsed from the custom id, so they survive restarts."""
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for index, button in enumerate(buttons[:MAX_BUTTONS]):
        view.add_item(WavepoolButton(button, row=index // 5))
    return view
