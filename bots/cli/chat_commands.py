"""``wavepool cmd``: any declared command, run from the terminal as the operator."""

from __future__ import annotations

import shlex
from pathlib import Path

from bots.cli.output import TERMINAL
from bots.instance import Instance
from core.cards import card_text
from core.commands.declaration import Attachment, Invocation, ParamKind, Permission, Reply
from core.commands.dispatch import execute
from core.commands.parsing import parse_chat
from core.errors import UsageError
from core.replies import localize


def render_reply(reply: Reply) -> str:
    """A reply as terminal text."""
    reply = localize(reply, TERMINAL)
    parts: list[str] = []
    if reply.title:
        parts.append(reply.title)
    if reply.text:
        parts.append(reply.text)
    for name, value in reply.fields:
        parts.append(f"  {name}: {value}")
    for track in reply.cards:
        parts.append(card_text(track))
    return "\n".join(parts)


async def run_chat_command(
    instance: Instance, words: list[str], as_user: str | None = None, cwd: Path | None = None
) -> tuple[str, bool]:
    """Run ``words`` as a command; returns the printed text and whether it succeeded."""
    text = " ".join(shlex.quote(w) for w in words)
    command, args = parse_chat(instance.registry, text)
    attachments: list[Attachment] = []
    for param in command.params:
        value = args.get(param.name)
        if param.kind is ParamKind.ATTACHMENT and isinstance(value, str):
            path = Path(value).expanduser()
            if not path.is_absolute() and cwd is not None:
                path = cwd / path
            if not path.is_file():
                raise UsageError(f"no such file: {value}")
            attachments.append(Attachment(path.name, path, path.stat().st_size))
            args[param.name] = None
    user = as_user or "operator"
    invocation = Invocation(
        platform="cli",
        user_id=user,
        display_name=user,
        place="cli",
        permission=Permission.OPERATOR if as_user is None else Permission.MEMBER,
        args=args,
        attachments=tuple(attachments),
    )
    reply = await execute(command, invocation)
    return render_reply(reply), not reply.failed
