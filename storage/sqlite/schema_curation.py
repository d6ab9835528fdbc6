"""Curation's tables (issue 17): boosts, peers' signed boost counts, remix lineage.

``track_votes_member`` answers "what has this member voted on" (``discover`` excludes it)
from the index alone; the primary key starts with the track. ``shares_recent`` lets the
curation index read new re-shares by time. Migration statements only; the ``Migration``
itself is declared in ``migrations.py``.
"""

from __future__ import annotations

CURATION_VERSION = 170
CURATION_NAME = "curation: boosts, lineage"
CURATION_STATEMENTS: tuple[str, ...] = (
    """CREATE TABLE curation_boosts (
        track_id TEXT NOT NULL, platform TEXT NOT NULL, user_id TEXT NOT NULL, at TEXT NOT NULL,
        PRIMARY KEY (track_id, platform, user_id)
    )""",
    """CREATE TABLE curation_peer_boosts (
        cid TEXT PRIMARY KEY, origin TEXT NOT NULL, count INTEGER NOT NULL, at TEXT NOT NULL
    )""",
    """CREATE TABLE curation_lineage (
        child_id TEXT PRIMARY KEY, child_cid TEXT NOT NULL, parent_cid TEXT NOT NULL,
        relation TEXT NOT NULL, at TEXT NOT NULL
    )""",
    "CREATE INDEX curation_lineage_parent ON curation_lineage(parent_cid, at)",
    "CREATE INDEX curation_lineage_at ON curation_lineage(at, parent_cid)",
    "CREATE INDEX IF NOT EXISTS track_votes_member ON track_votes(platform, user_id, track_id)",
    "CREATE INDEX IF NOT EXISTS shares_recent ON shares(shared_at)",
)

# Web plays (a weak recommendation signal): one row per counted play, no address or member.
WEB_PLAYS_VERSION = 171
WEB_PLAYS_NAME = "curation: web plays"
WEB_PLAYS_STATEMENTS: tuple[str, ...] = (
    "CREATE TABLE curation_web_plays (track_id TEXT NOT NULL, at TEXT NOT NULL)",
    "CREATE INDEX curation_web_plays_at ON curation_web_plays(at)",
)
