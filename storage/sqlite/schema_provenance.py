"""Schema of provenance v2 (migrations 120 and 121; declared in ``migrations.py``).

* ``confirmations``: one row per track waiting for (or done with) its generator's
  confirmation: the file's facts to compare, the state, attempts and next try.
* ``generator_pages``: the cache of generator page lookups, one row per song id, with
  the page's facts and its audio's fingerprint (so a second share of the same song id
  does not fetch the page again while the row is fresh).
* ``near_dup_docs`` / ``near_dup_bands``: the near-duplicate index (``core.near_dup``):
  a compact copy of each track's first two minutes of fingerprint, and one row per LSH
  band key. ``(band, doc)`` is the primary key (lookups seek it); ``doc`` has its own
  index so a delete does not scan the table. Tracks fingerprinted before this
  migration are indexed by ``SqliteNearDuplicateIndex.backfill`` (from ``fingerprints``).
"""

from __future__ import annotations

CONFIRMATIONS_VERSION = 120
CONFIRMATIONS_NAME = "generator confirmations"
CONFIRMATIONS_STATEMENTS: tuple[str, ...] = (
    """CREATE TABLE confirmations (
        track_id TEXT PRIMARY KEY, generator TEXT NOT NULL, song_id TEXT NOT NULL, cid TEXT NOT NULL,
        duration_s REAL NOT NULL, file_title TEXT, fp_duration_s REAL, fp BLOB,
        state TEXT NOT NULL, attempts INTEGER NOT NULL, due TEXT NOT NULL, checked_at TEXT,
        evidence TEXT, last_error TEXT
    )""",
    "CREATE INDEX confirmations_due ON confirmations(state, due)",
    "CREATE INDEX confirmations_song ON confirmations(generator, song_id)",
    """CREATE TABLE generator_pages (
        generator TEXT NOT NULL, song_id TEXT NOT NULL, status TEXT NOT NULL, checked_at TEXT NOT NULL,
        detail TEXT NOT NULL, page TEXT, fp_duration_s REAL, fp BLOB,
        PRIMARY KEY (generator, song_id)
    ) WITHOUT ROWID""",
)

NEAR_DUP_VERSION = 121
NEAR_DUP_NAME = "near-duplicate LSH index"
NEAR_DUP_STATEMENTS: tuple[str, ...] = (
    """CREATE TABLE near_dup_docs (
        doc INTEGER PRIMARY KEY, track_id TEXT NOT NULL UNIQUE, duration_s REAL NOT NULL, vals BLOB NOT NULL
    )""",
    "CREATE TABLE near_dup_bands (band INTEGER NOT NULL, doc INTEGER NOT NULL, PRIMARY KEY (band, doc)) WITHOUT ROWID",
    "CREATE INDEX near_dup_bands_doc ON near_dup_bands(doc)",
    # the inverted index of migration 1 is replaced (its lookups grew with the pool, its deletes scanned)
    "DROP INDEX fingerprint_keys_key",
    "DROP TABLE fingerprint_keys",
)

# Migration 130: deletes find a track's band rows by recomputing its bands from the stored
# fingerprint copy (32 primary-key seeks), so the ``doc`` index, as large as the band table
# itself, is no longer written on every insert or kept in the page cache.
NEAR_DUP_SLIM_VERSION = 130
NEAR_DUP_SLIM_NAME = "near-duplicate index without its doc index"
NEAR_DUP_SLIM_STATEMENTS: tuple[str, ...] = ("DROP INDEX IF EXISTS near_dup_bands_doc",)

# Migration 131: provenance of replicated tracks.
# * ``fed_event_times``: the homeserver's origin_server_ts of the first federation event that
#   carried each track's manifest (first-sharer settlement trusts it, not the manifest's date);
# * ``replica_fingerprints``: replicated tracks waiting to be fingerprinted and indexed, and
#   how each was (the manifest's fingerprint checked on a sample, or our own).
REPLICA_PROVENANCE_VERSION = 131
REPLICA_PROVENANCE_NAME = "provenance of replicated tracks"
REPLICA_PROVENANCE_STATEMENTS: tuple[str, ...] = (
    "CREATE TABLE fed_event_times (track_id TEXT PRIMARY KEY, origin_server_ts INTEGER NOT NULL) WITHOUT ROWID",
    """CREATE TABLE replica_fingerprints (
        track_id TEXT PRIMARY KEY, state TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '', checked_at TEXT
    )""",
    "CREATE INDEX replica_fingerprints_state ON replica_fingerprints(state)",
)

# Migration 132: the chat messages that show a track's card, so a verdict upgrade edits
# them (Matrix m.replace, Discord message edit) instead of leaving the old verdict up.
POSTED_CARDS_VERSION = 132
POSTED_CARDS_NAME = "posted track cards"
POSTED_CARDS_STATEMENTS: tuple[str, ...] = (
    """CREATE TABLE posted_cards (
        platform TEXT NOT NULL, message_id TEXT NOT NULL, place TEXT NOT NULL, track_id TEXT NOT NULL,
        headline TEXT NOT NULL, posted_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        PRIMARY KEY (platform, message_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX posted_cards_track ON posted_cards(track_id, platform)",
)

# Migration 235: a near-duplicate delete removes the track's fingerprint copy at once and leaves
# its 32 band rows (32 random B-tree leaves, usually cold) to a background sweep; until then
# ``near_dup_forgotten`` holds the doc number and its bands (``SqliteNearDuplicateIndex.sweep``).
NEAR_DUP_SWEEP_VERSION = 235
NEAR_DUP_SWEEP_NAME = "near-duplicate band rows swept after deletes"
NEAR_DUP_SWEEP_STATEMENTS: tuple[str, ...] = (
    "CREATE TABLE near_dup_forgotten (doc INTEGER PRIMARY KEY, bands BLOB NOT NULL)",
)
