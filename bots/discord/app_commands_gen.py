"""Slash commands generated from the core registry: one declaration, no hand-written copies.

Each ``core`` command becomes an ``app_commands.Command`` whose callback signature is built
from the command's parameters, so discord.py derives option types, descriptions, choices
and required flags itself. Two-word commands become groups (``/prompt save``). A required
free-text parameter that takes the rest of a chat line becomes optional here: when it is
left out, a modal asks for it (``/prompt save`` opens a modal).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import discord
from discord import app_commands

from core.commands.declaration import Command, CommandRegistry, Param, ParamKind

Runner = Callable[[discord.Interaction[Any], Command, dict[str, Any]], Awaitable[None]]
Suggest = Callable[[discord.Interaction[Any], str, str], Awaitable[list[tuple[str, str]]]]

_TYPES: dict[ParamKind, Any] = {
    ParamKind.TEXT: str,
    ParamKind.INTEGER: int,
    ParamKind.NUMBER: float,
    ParamKind.TRACK: str,
    ParamKind.ATTACHMENT: discord.Attachment,
    ParamKind.USER: discord.Member,
    ParamKind.DURATION: str,
}


def modal_param(command: Command) -> Param | None:
    """The parameter a modal asks for when it is left out, if any."""
    for param in command.params:
        if param.rest and param.required and param.kind is ParamKind.TEXT:
            return param
    return None


def _annotation(param: Param) -> Any:
    if param.kind is ParamKind.CHOICE:
        return Literal[param.choices]
    return _TYPES[param.kind]


def _signature(command: Command) -> inspect.Signature:
    asked = modal_param(command)
    params = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction)]
    required = [p for p in command.params if p.required and p is not asked and p.kind is not ParamKind.ATTACHMENT]
    optional = [p for p in command.params if p not in required]
    for param in required:
        params.append(
            inspect.Parameter(param.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=_annotation(param))
        )
    for param in optional:
        params.append(
            inspect.Parameter(
                param.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=_annotation(param) | None, default=None
            )
        )
    return inspect.Signature(params)


def build_command(command: Command, run: Runner, suggest: Suggest) -> app_commands.Command[Any, Any, Any]:
    """One slash command (the leaf of a group, or a top-level one)."""

    async def callback(interaction: discord.Interaction[Any], **options: Any) -> None:
        await run(interaction, command, options)

    callback.__signature__ = _signature(command)  # type: ignore[attr-defined]
    callback.__qualname__ = callback.__name__ = f"wavepool_{command.name.replace(' ', '_')}"
    callback.__discord_app_commands_param_description__ = {  # type: ignore[attr-defined]
        p.name: p.help[:100] for p in command.params
    }
    # discord.py types callbacks by their static signature; ours is built at run time (__signature__)
    slash: app_commands.Command[Any, ..., None] = app_commands.Command(
        name=command.leaf, description=command.help[:100], callback=callback
    )
    for param in command.params:
        if param.autocomplete:
            slash.autocomplete(param.name)(_completer(param.autocomplete, suggest))  # type: ignore[arg-type]
    return slash


def _completer(source: str, suggest: Suggest) -> Callable[..., Awaitable[list[app_commands.Choice[str]]]]:
    async def complete(interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        found = await suggest(interaction, source, current)
        return [app_commands.Choice(name=label[:100], value=value[:100]) for label, value in found[:25]]

    complete.__qualname__ = complete.__name__ = f"complete_{source}"
    return complete


def build_tree(
    tree: app_commands.CommandTree[Any],
    registry: CommandRegistry,
    run: Runner,
    suggest: Suggest,
    guild: discord.abc.Snowflake | None,
) -> None:
    """Add every registry command to ``tree`` (groups for two-word names)."""
    groups: dict[str, app_commands.Group] = {}
    for command in registry.all():
        slash = build_command(command, run, suggest)
        if command.group is None:
            tree.add_command(slash, guild=guild)
            continue
        group = groups.get(command.group)
        if group is None:
            group = app_commands.Group(name=command.group, description=f"{command.group} commands")
            groups[command.group] = group
            tree.add_command(group, guild=guild)
        group.add_command(slash)
