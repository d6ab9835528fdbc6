"""Small helpers the command modules share."""

from __future__ import annotations

from typing import Any

from core.commands.declaration import Invocation, Permission
from core.errors import NotFoundError
from core.model import Sharer
from core.visibility import Viewer


def sharer_of(invocation: Invocation) -> Sharer:
    """The member who runs a command, as the core records people."""
    return Sharer(invocation.platform, invocation.user_id, invocation.display_name)


def viewer_of(invocation: Invocation) -> Viewer:
    """Who is looking, for the visibility rule (moderators see the review queue's tracks)."""
    return Viewer(invocation.platform, invocation.user_id, invocation.permission >= Permission.MODERATOR)


def arg(invocation: Invocation, name: str, default: Any = None) -> Any:
    """An argument, or ``default`` when missing."""
    value = invocation.args.get(name)
    return default if value is None else value


def need(service: Any, what: str) -> Any:
    """The service, or a NotFoundError saying this instance does not run it."""
    if service is None:
        raise NotFoundError(f"{what} is not enabled on this instance")
    return service


def lines_of(items: list[str], empty: str) -> str:
    """Items one per line, or the ``empty`` sentence."""
    return "\n".join(items) if items else empty
