"""Buttons under cards and round entries: one dynamic item parses every ``wp:`` custom id,
so a click works on any message, also after a restart (no view state is kept)."""

from __future__ import annotations

import re
from typing import Any

import discord

from bots.layout import cut, utf16_len
from core.commands.declaration import Button, ButtonAction
from core.commands.dispatch import press

TEMPLATE = r"wp:(?P<action>[a-z]+):(?P<value>.+)"
CONTENT = 2000  # Discord's limit for a message's content


class WavepoolButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=TEMPLATE):
    """A ``core`` button: clicking runs ``core.commands.dispatch.press``, answered ephemerally."""

    def __init__(self, button: Button, row: int | None = None) -> None:
        style = discord.ButtonStyle.primary if button.action is ButtonAction.VOTE else discord.ButtonStyle.secondary
        super().__init__(discord.ui.Button(label=button.label[:80], custom_id=button.custom_id, style=style, row=row))
        self.button = button

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> WavepoolButton:
        action = ButtonAction(match["action"]) if match["action"] in ButtonAction._value2member_map_ else None
        if action is None:
            action = ButtonAction.OPEN
        label = getattr(item, "label", None) or "button"
        return cls(Button(label, action, match["value"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client = interaction.client
        await interaction.response.defer(ephemeral=True, thinking=True)
        invocation = client.invocation(interaction, {})
        reply = await press(client.instance.registry, self.button.custom_id, invocation)
        await interaction.followup.send(
            cut(reply.text or "Done.", CONTENT, utf16_len),
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )
