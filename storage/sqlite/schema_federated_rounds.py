"""Schema of cross-community rounds (migration 180). Statements only; the ``Migration`` is
declared in ``migrations.py``."""

from __future__ import annotations

FEDERATED_ROUNDS_VERSION = 180
FEDERATED_ROUNDS_NAME = "federated rounds"
FEDERATED_ROUNDS_STATEMENTS: tuple[str, ...] = (
    """CREATE TABLE fr_rounds (
        id TEXT PRIMARY KEY, organiser TEXT NOT NULL, organiser_name TEXT NOT NULL, room TEXT NOT NULL,
        rules TEXT NOT NULL, submit_until TEXT NOT NULL, vote_until TEXT NOT NULL, tally_until TEXT NOT NULL,
        participation TEXT NOT NULL, local_round INTEGER, results_at TEXT, tally_sent INTEGER NOT NULL DEFAULT 0,
        announced_at TEXT
    )""",
    "CREATE INDEX fr_rounds_local ON fr_rounds(local_round)",
    "CREATE INDEX fr_rounds_open ON fr_rounds(results_at)",
    """CREATE TABLE fr_members (
        round_id TEXT NOT NULL, instance TEXT NOT NULL, name TEXT NOT NULL, joined INTEGER NOT NULL,
        sent_at TEXT NOT NULL, PRIMARY KEY (round_id, instance)
    ) WITHOUT ROWID""",
    """CREATE TABLE fr_entries (
        round_id TEXT NOT NULL, cid TEXT NOT NULL, track_id TEXT NOT NULL, origin TEXT NOT NULL,
        submitter TEXT NOT NULL, submitter_name TEXT, sent_at TEXT NOT NULL, PRIMARY KEY (round_id, cid)
    ) WITHOUT ROWID""",
    """CREATE TABLE fr_tallies (
        round_id TEXT NOT NULL, event_id TEXT NOT NULL, instance TEXT NOT NULL, name TEXT NOT NULL,
        voters INTEGER NOT NULL, active_members INTEGER NOT NULL, counts TEXT NOT NULL, sent_at TEXT NOT NULL,
        status TEXT NOT NULL, late_marked INTEGER NOT NULL, PRIMARY KEY (round_id, event_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE fr_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT, room TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL
    )""",
)
