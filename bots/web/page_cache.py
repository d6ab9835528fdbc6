"""A few seconds of memory for rendered pages: a busy page is gathered and rendered once, not per reader.

An entry holds only while the event outbox has not moved (``EventLog.last_seq``): a track
accepted or taken down, a round's phase, a digest published all record an event, so a
page never outlives the change it shows. What records no event (a vote count) may be up to
``ttl`` seconds old; readers' caches are told 60 seconds anyway (``Cache-Control``).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class CachedPage:
    """A rendered page and the outbox position it was rendered at."""

    body: bytes
    content_type: str
    seq: int
    at: float


class PageCache:
    """Rendered pages by path and query, least recently used first out."""

    def __init__(self, ttl: float = 5.0, max_entries: int = 512) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._pages: OrderedDict[str, CachedPage] = OrderedDict()

    def get(self, key: str, seq: int) -> CachedPage | None:
        """The page if it was rendered at this outbox position less than ``ttl`` ago."""
        page = self._pages.get(key)
        if page is None:
            return None
        if page.seq != seq or time.monotonic() - page.at > self._ttl:
            del self._pages[key]
            return None
        self._pages.move_to_end(key)
        return page

    def put(self, key: str, seq: int, body: bytes, content_type: str) -> None:
        """Keep a page rendered at an outbox position."""
        self._pages[key] = CachedPage(body, content_type, seq, time.monotonic())
        self._pages.move_to_end(key)
        while len(self._pages) > self._max:
            self._pages.popitem(last=False)
