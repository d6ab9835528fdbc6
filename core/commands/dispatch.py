"""Running a command for an adapter: permission check, errors turned into plain replies.

Every adapter (Discord, Matrix, command line) calls ``execute`` or ``press``; none of
them catches core errors itself, so members see the same words everywhere and a
traceback never reaches a chat.
"""

from __future__ import annotations

import logging

from core.commands.declaration import (
    ButtonAction,
    Command,
    CommandRegistry,
    Invocation,
    Permission,
    Reply,
)
from core.errors import PermissionDeniedError, UsageError, WavepoolError

log = logging.getLogger(__name__)

_PERMISSION_WORDS = {Permission.MODERATOR: "a moderator", Permission.OPERATOR: "an operator"}
INTERNAL_ERROR_TEXT = "Something went wrong on our side; the operators can see the details in the log."


def error_reply(error: Exception) -> Reply:
    """A private reply that says what went wrong in words a member understands."""
    if isinstance(error, WavepoolError):
        return Reply(text=str(error), private=True, failed=True, data={"error": type(error).__name__})
    return Reply(text=INTERNAL_ERROR_TEXT, private=True, failed=True, data={"error": "internal"})


def check_permission(command: Command, invocation: Invocation) -> None:
    """PermissionDeniedError when the caller's level is below the command's."""
    if invocation.permission < command.permission:
        who = _PERMISSION_WORDS.get(command.permission, "more rights")
        raise PermissionDeniedError(f"`{command.name}` is for {who} only")


async def execute(command: Command, invocation: Invocation) -> Reply:
    """Run ``command``; every failure becomes a private reply, unexpected ones are logged."""
    try:
        check_permission(command, invocation)
        return await command.handler(invocation)
    except WavepoolError as error:
        return error_reply(error)
    except Exception as error:
        log.exception("command %s failed for %s:%s", command.name, invocation.platform, invocation.user_id)
        return error_reply(error)


async def press(registry: CommandRegistry, custom_id: str, invocation: Invocation) -> Reply:
    """Run the button whose stable id is ``custom_id`` (``wp:<action>:<value>``)."""
    try:
        prefix, action_name, value = custom_id.split(":", 2)
        if prefix != "wp":
            raise UsageError("this button does not belong to Wavepool")
        action = ButtonAction(action_name)
    except ValueError:
        return error_reply(UsageError("this button is no longer valid"))
    handler = registry.button_handler(action)
    if handler is None:
        return error_reply(UsageError("this button is no longer valid"))
    try:
        return await handler(invocation, value)
    except WavepoolError as error:
        return error_reply(error)
    except Exception as error:
        log.exception("button %s failed for %s:%s", custom_id, invocation.platform, invocation.user_id)
        return error_reply(error)
