"""The web server's page cache: a page holds only while the outbox has not moved, and not past its ttl."""

from __future__ import annotations

import time

from bots.web.page_cache import PageCache


def test_a_page_is_served_again_until_an_event_is_recorded() -> None:
    cache = PageCache(ttl=60)
    cache.put("/", 7, b"home", "text/html")
    hit = cache.get("/", 7)
    assert hit is not None and hit.body == b"home"
    assert cache.get("/", 8) is None  # a track accepted, a round closed: render again
    assert cache.get("/", 7) is None  # and the stale page is gone


def test_a_page_expires_after_its_ttl() -> None:
    cache = PageCache(ttl=0.05)
    cache.put("/genres/lofi", 1, b"x", "text/html")
    deadline = time.monotonic() + 5
    while cache.get("/genres/lofi", 1) is not None:  # wait on the condition, bounded
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_the_least_recently_used_page_leaves_first() -> None:
    cache = PageCache(ttl=60, max_entries=2)
    cache.put("/a", 1, b"a", "text/html")
    cache.put("/b", 1, b"b", "text/html")
    assert cache.get("/a", 1) is not None
    cache.put("/c", 1, b"c", "text/html")
    assert cache.get("/b", 1) is None and cache.get("/a", 1) is not None and cache.get("/c", 1) is not None
