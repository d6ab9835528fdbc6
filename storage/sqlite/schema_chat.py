"""An index of tracks by the sharer's display name (``search alice`` finds Alice's tracks).

The full-text index is left as it is: rebuilding it with a ``sharer_name`` column took
60 s at 100,000 tracks here (a minute before an upgraded instance serves); this index is
built in well under a second and answers a name or the start of one (``LIKE 'ali%'``
under NOCASE). Migration statements only; the ``Migration`` itself is declared in
``migrations.py``.
"""

from __future__ import annotations

SHARER_NAME_VERSION = 200
SHARER_NAME_NAME = "tracks by the sharer's display name"
SHARER_NAME_STATEMENTS: tuple[str, ...] = (
    "CREATE INDEX IF NOT EXISTS tracks_sharer_name ON tracks(sharer_name COLLATE NOCASE, first_seen_at)",
)
