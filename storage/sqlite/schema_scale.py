"""Indexes for an instance at community size (bench/scale.py, docs/BENCHMARKS.md).

``ballots_voter`` answers "this member's ballots in this round" and "how many members voted"
from the index alone; without it both read every ballot of the round (50,000 in a large
round), which is what a vote and ``round status`` cost. Migration statements only; the
``Migration`` itself is declared in ``migrations.py``.
"""

from __future__ import annotations

SCALE_INDEXES_VERSION = 16
SCALE_INDEXES_NAME = "indexes for community size"
SCALE_INDEXES_STATEMENTS: tuple[str, ...] = (
    "CREATE INDEX IF NOT EXISTS ballots_voter ON ballots(round_id, platform, user_id, entry, value)",
)
