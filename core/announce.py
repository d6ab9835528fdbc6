"""Announcements: posts the core makes on its own (round phases, results, digests, routing).

The core hands a ``Post`` to ``Announcer.announce``; the runtime fans it out to every bot
that is running (each bot registers a sink that maps the post's target to its channel or
room). Nothing in the core knows which platforms exist.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from core.commands.declaration import Post

log = logging.getLogger(__name__)

Sink = Callable[[Post], Awaitable[None]]


class Announcer:
    """Fans posts out to the registered sinks; one failing sink does not stop the others."""

    def __init__(self) -> None:
        self._sinks: dict[str, Sink] = {}
        self.history: list[Post] = []  # the last posts, for `digest`/status views and tests

    def register(self, name: str, sink: Sink) -> None:
        """Add (or replace) the sink of one platform."""
        self._sinks[name] = sink

    def unregister(self, name: str) -> None:
        """Remove a platform's sink."""
        self._sinks.pop(name, None)

    async def announce(self, post: Post) -> None:
        """Deliver ``post`` to every sink."""
        self.history = [*self.history[-99:], post]
        for name, sink in list(self._sinks.items()):
            try:
                await sink(post)
            except Exception:  # a platform outage must not stop the others
                log.exception("announcing %s through %s failed", post.target, name)
