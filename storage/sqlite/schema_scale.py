"""Indexes for an instance at community size (bench/scale.py, docs/BENCHMARKS.md).

``ballots_voter`` answers "this member's ballots in this round" and "how many members voted"
from the index alone; without it both read every ballot of the round (50,000 in a large
round), which is what a vote and ``round status`` cost. ``track_votes_track`` sums a track's
votes from the index alone: through the primary key every vote of a popular track (tens of
thousands) is a table lookup, and prompt search sums the votes of the tracks of each result
(p99 ~0.5 s at 2,000,000 votes without it). Migration statements only; the
``Migration`` itself is declared in ``migrations.py``.
"""

from __future__ import annotations

SCALE_INDEXES_VERSION = 16
SCALE_INDEXES_NAME = "indexes for community size"
SCALE_INDEXES_STATEMENTS: tuple[str, ...] = (
    "CREATE INDEX IF NOT EXISTS ballots_voter ON ballots(round_id, platform, user_id, entry, value)",
    "CREATE INDEX IF NOT EXISTS track_votes_track ON track_votes(track_id, cast_at, value)",
)

# Migration 220 (issue 16, second pass): ``peers`` counts each peer's tracks from this index
# (origin, then the track ids to join) instead of reading every stored manifest per peer.
FED_ORIGIN_VERSION = 220
FED_ORIGIN_NAME = "manifests by origin"
FED_ORIGIN_STATEMENTS: tuple[str, ...] = (
    "CREATE INDEX IF NOT EXISTS fed_manifests_origin ON fed_manifests(origin, track_id)",
)

# Migration 230 (issue 16, RSS and start-up): a rebuild of the curation index reads every vote
# in time order, 10,000 at a time. ``track_votes_recent`` lacked the member, so each vote read
# was a table lookup (2,000,000 random reads: ~26 s of the rebuild). With the member in the
# index (before ``value``, so the order cast_at, track_id, platform, user_id is the index's) the
# read is one walk of the index; the queries by time that used it keep their prefix.
VOTES_BY_TIME_VERSION = 230
VOTES_BY_TIME_NAME = "votes by time with the member"
VOTES_BY_TIME_STATEMENTS: tuple[str, ...] = (
    "DROP INDEX IF EXISTS track_votes_recent",
    "CREATE INDEX track_votes_recent ON track_votes(cast_at, track_id, platform, user_id, value)",
)
