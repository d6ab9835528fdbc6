"""Every command of an instance, declared once; the bots and the CLI expose this registry."""

from __future__ import annotations

from core.app import App
from core.commands.community_commands import (
    digest_commands,
    federation_commands,
    moderation_commands,
    prompt_commands,
)
from core.commands.curation_commands import curation_commands, track_suggestions
from core.commands.declaration import (
    ButtonAction,
    Command,
    CommandRegistry,
    Invocation,
    Param,
    ParamKind,
    Permission,
    Reply,
    Suggestion,
)
from core.commands.federated_round_commands import federated_round_commands
from core.commands.parsing import usage
from core.commands.place_commands import place_commands
from core.commands.round_commands import round_commands, vote_button
from core.commands.track_commands import track_commands
from core.errors import UsageError
from core.replies import command_hint

NO_ATTACHMENTS = ("matrix",)  # a Matrix command is a text message: files come by replying to them
_LEVEL = {Permission.MEMBER: "", Permission.MODERATOR: " (moderators)", Permission.OPERATOR: " (operators)"}


def _help_command(registry: CommandRegistry) -> Command:
    async def help_(inv: Invocation) -> Reply:
        name = (inv.args.get("command") or "").strip().lower()
        files = inv.platform not in NO_ATTACHMENTS
        if name:
            command = registry.get(name)
            if command is None:
                group = registry.groups().get(name)
                if not group:
                    raise UsageError(f"unknown command `{name}`; try `{command_hint('help')}`")
                lines = [f"{usage(c, files)} — {c.help}{_LEVEL[c.permission]}" for c in group]
                return Reply(title=f"Help: {name}", text="\n".join(lines), private=True)
            lines = [usage(command, files), command.help + _LEVEL[command.permission]]
            for param in command.params:
                if param.kind is ParamKind.ATTACHMENT and not files:
                    continue
                extra = f" (one of: {', '.join(param.choices)})" if param.choices else ""
                optional = "" if param.required else " — optional"
                lines.append(f"  {param.name}: {param.help}{extra}{optional}")
            return Reply(title=f"Help: {command.name}", text="\n".join(lines), private=True)
        lines = [
            f"{usage(c, files)} — {c.help}{_LEVEL[c.permission]}"
            for c in registry.all()
            if c.permission <= inv.permission or c.permission is Permission.MODERATOR
        ]
        return Reply(title="Wavepool commands", text="\n".join(lines), private=True)

    return Command(
        "help",
        "List the commands, or explain one",
        help_,
        (Param("command", ParamKind.TEXT, "a command name", required=False, rest=True),),
    )


def build_registry(app: App) -> CommandRegistry:
    """All commands, buttons and autocomplete sources of an instance."""
    registry = CommandRegistry()
    for command in (
        *track_commands(app),
        *round_commands(app),
        *prompt_commands(app),
        *digest_commands(app),
        *moderation_commands(app),
        *federation_commands(app),
        *curation_commands(app),
        *federated_round_commands(app),
        *place_commands(app),
    ):
        registry.add(command)
    registry.add(_help_command(registry))
    registry.on_button(ButtonAction.VOTE, vote_button(app))

    async def genres(inv: Invocation, text: str) -> list[Suggestion]:
        names = app.genres.names() if app.genres else []
        return [(n, n) for n in names if n.startswith(text.lower())]

    async def rounds(inv: Invocation, text: str) -> list[Suggestion]:
        if app.voting is None:
            return []
        return [
            (f"#{r.id} {r.rules.theme} ({r.phase.value})"[:100], str(r.id))
            for r in await app.voting.open_rounds()
            if str(r.id).startswith(text.lstrip("#"))
        ]

    async def my_tracks(inv: Invocation, text: str) -> list[Suggestion]:
        mine = await app.tracks.by_sharer(inv.platform, inv.user_id, limit=50)
        needle = text.lower()
        return [
            (f"{t.title} ({t.id[:8]})"[:100], t.id)
            for t in mine
            if needle in t.title.lower() or t.id.startswith(needle)
        ]

    async def prompts(inv: Invocation, text: str) -> list[Suggestion]:
        if app.prompts is None or not text.strip():
            return []
        return [(p.text[:100], p.id) for p in await app.prompts.search(text, limit=25)]

    registry.add_autocomplete("genres", genres)
    registry.add_autocomplete("rounds", rounds)
    registry.add_autocomplete("my_tracks", my_tracks)
    registry.add_autocomplete("prompts", prompts)
    registry.add_autocomplete("tracks", track_suggestions(app))
    return registry
