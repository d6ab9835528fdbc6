"""Index for the public web page's genre pages and feeds (bench/web.py, docs/WEB.md).

``tracks_genre_seen`` lets ``/genres/<name>`` and ``/feeds/genres/<name>.atom`` walk a
genre's tracks newest first and stop after a page; without it SQLite walks every track
of the pool by date and filters by genre (most of 100,000 rows for a small genre).
Migration statements only; the ``Migration`` itself is declared in ``migrations.py``.
"""

from __future__ import annotations

WEB_INDEXES_VERSION = 150
WEB_INDEXES_NAME = "index for genre pages"
WEB_INDEXES_STATEMENTS: tuple[str, ...] = (
    "CREATE INDEX IF NOT EXISTS tracks_genre_seen ON tracks(genre, first_seen_at)",
)
