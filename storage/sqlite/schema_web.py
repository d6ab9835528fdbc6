"""Indexes for the public web page's genre pages, feeds and track pages (bench/web.py, docs/WEB.md).

``tracks_genre_seen`` lets ``/genres/<name>`` and ``/feeds/genres/<name>.atom`` walk a
genre's tracks newest first and stop after a page; without it SQLite walks every track
of the pool by date and filters by genre (most of 100,000 rows for a small genre).
``entries_track`` answers "which rounds was this track in" for a track page; the entries
table is keyed by (round, number), so without it the page reads every entry (tens of
thousands in a large instance). Migration statements only; each ``Migration`` is declared in
``migrations.py``.
"""

from __future__ import annotations

WEB_INDEXES_VERSION = 150
WEB_INDEXES_NAME = "index for genre pages"
WEB_INDEXES_STATEMENTS: tuple[str, ...] = (
    "CREATE INDEX IF NOT EXISTS tracks_genre_seen ON tracks(genre, first_seen_at)",
)

WEB_ENTRIES_VERSION = 151
WEB_ENTRIES_NAME = "index for the rounds of a track"
WEB_ENTRIES_STATEMENTS: tuple[str, ...] = ("CREATE INDEX IF NOT EXISTS entries_track ON entries(track_id)",)
