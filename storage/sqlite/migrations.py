"""The schema, as ordered migrations. Append new ones; never edit an applied one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    """One step of the schema."""

    version: int
    name: str
    statements: tuple[str, ...]


TRACKS = Migration(
    1,
    "tracks, shares, fingerprints",
    (
        """CREATE TABLE tracks (
        id TEXT PRIMARY KEY,
        cid TEXT NOT NULL,
        size INTEGER NOT NULL,
        media_type TEXT NOT NULL,
        duration_s REAL NOT NULL,
        title TEXT NOT NULL,
        sharer_platform TEXT NOT NULL,
        sharer_id TEXT NOT NULL,
        sharer_name TEXT NOT NULL,
        first_seen_at TEXT NOT NULL,
        origin_instance TEXT NOT NULL,
        verdict TEXT NOT NULL,
        verdict_reason TEXT NOT NULL,
        evidence TEXT NOT NULL,
        artist TEXT, genre TEXT, tags TEXT NOT NULL, prompt TEXT, style TEXT, lyrics TEXT,
        generator TEXT, generator_song_id TEXT, source_url TEXT, quality TEXT,
        status TEXT NOT NULL
    )""",
        "CREATE INDEX tracks_cid ON tracks(cid)",
        "CREATE INDEX tracks_seen ON tracks(first_seen_at)",
        "CREATE INDEX tracks_verdict ON tracks(verdict, status, first_seen_at)",
        "CREATE INDEX tracks_sharer ON tracks(sharer_platform, sharer_id, first_seen_at)",
        """CREATE VIRTUAL TABLE tracks_fts USING fts5(
        title, artist, prompt, style, tags, genre, content='tracks', content_rowid='rowid',
        tokenize='unicode61 remove_diacritics 2', prefix='2 3 4 5 6')""",
        """CREATE TRIGGER tracks_fts_insert AFTER INSERT ON tracks BEGIN
        INSERT INTO tracks_fts(rowid, title, artist, prompt, style, tags, genre)
        VALUES (new.rowid, new.title, new.artist, new.prompt, new.style, new.tags, new.genre);
    END""",
        """CREATE TRIGGER tracks_fts_delete AFTER DELETE ON tracks BEGIN
        INSERT INTO tracks_fts(tracks_fts, rowid, title, artist, prompt, style, tags, genre)
        VALUES ('delete', old.rowid, old.title, old.artist, old.prompt, old.style, old.tags, old.genre);
    END""",
        """CREATE TRIGGER tracks_fts_update AFTER UPDATE OF title, artist, prompt, style, tags, genre
        ON tracks BEGIN
        INSERT INTO tracks_fts(tracks_fts, rowid, title, artist, prompt, style, tags, genre)
        VALUES ('delete', old.rowid, old.title, old.artist, old.prompt, old.style, old.tags, old.genre);
        INSERT INTO tracks_fts(rowid, title, artist, prompt, style, tags, genre)
        VALUES (new.rowid, new.title, new.artist, new.prompt, new.style, new.tags, new.genre);
    END""",
        """CREATE TABLE shares (
        track_id TEXT NOT NULL REFERENCES tracks(id),
        platform TEXT NOT NULL, user_id TEXT NOT NULL, display_name TEXT NOT NULL,
        shared_at TEXT NOT NULL, place TEXT NOT NULL
    )""",
        "CREATE INDEX shares_track ON shares(track_id, shared_at)",
        "CREATE INDEX shares_member ON shares(platform, user_id, shared_at)",
        """CREATE TABLE fingerprints (
        track_id TEXT PRIMARY KEY REFERENCES tracks(id),
        duration_s REAL NOT NULL,
        vals BLOB NOT NULL
    )""",
        "CREATE TABLE fingerprint_keys (key INTEGER NOT NULL, track_id TEXT NOT NULL)",
        "CREATE INDEX fingerprint_keys_key ON fingerprint_keys(key)",
    ),
)

BOT_STATE = Migration(
    2,
    "bot state",
    (
        """CREATE TABLE bot_state (
        namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY (namespace, key)
    )""",
    ),
)

GENRE_PLACES = Migration(
    3,
    "genre places",
    (
        """CREATE TABLE genre_places (
        genre TEXT NOT NULL, platform TEXT NOT NULL, place TEXT NOT NULL,
        PRIMARY KEY (genre, platform)
    )""",
    ),
)

VOTING = Migration(
    5,
    "voting rounds and track votes",
    (
        """CREATE TABLE rounds (
        id INTEGER PRIMARY KEY AUTOINCREMENT, rules TEXT NOT NULL,
        created_platform TEXT NOT NULL, created_id TEXT NOT NULL, created_name TEXT NOT NULL,
        created_at TEXT NOT NULL, submit_until TEXT NOT NULL, vote_until TEXT NOT NULL,
        phase TEXT NOT NULL, place TEXT NOT NULL
    )""",
        "CREATE INDEX rounds_phase ON rounds(phase)",
        """CREATE TABLE entries (
        round_id INTEGER NOT NULL REFERENCES rounds(id), number INTEGER NOT NULL,
        track_id TEXT NOT NULL, platform TEXT NOT NULL, user_id TEXT NOT NULL,
        display_name TEXT NOT NULL, submitted_at TEXT NOT NULL,
        PRIMARY KEY (round_id, number), UNIQUE (round_id, track_id)
    )""",
        """CREATE TABLE ballots (
        round_id INTEGER NOT NULL, entry INTEGER NOT NULL, platform TEXT NOT NULL,
        user_id TEXT NOT NULL, value INTEGER NOT NULL, cast_at TEXT NOT NULL,
        PRIMARY KEY (round_id, entry, platform, user_id),
        FOREIGN KEY (round_id, entry) REFERENCES entries(round_id, number)
    )""",
        """CREATE TABLE track_votes (
        track_id TEXT NOT NULL, platform TEXT NOT NULL, user_id TEXT NOT NULL,
        value INTEGER NOT NULL, cast_at TEXT NOT NULL,
        PRIMARY KEY (track_id, platform, user_id)
    )""",
        "CREATE INDEX track_votes_recent ON track_votes(cast_at, track_id, value)",
    ),
)

FEDERATION = Migration(
    7,
    "federation",
    (
        """CREATE TABLE fed_peers (
        instance_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, public_key TEXT NOT NULL, name TEXT NOT NULL,
        community TEXT NOT NULL, homepage TEXT NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL
    )""",
        "CREATE INDEX fed_peers_user ON fed_peers(user_id)",
        "CREATE TABLE fed_seen (event_id TEXT PRIMARY KEY) WITHOUT ROWID",
        """CREATE TABLE fed_manifests (
        track_id TEXT PRIMARY KEY, cid TEXT NOT NULL, origin TEXT NOT NULL, manifest TEXT NOT NULL,
        event_id TEXT
    )""",
        "CREATE INDEX fed_manifests_event ON fed_manifests(event_id)",
        """CREATE TABLE fed_queue (
        track_id TEXT PRIMARY KEY, cid TEXT NOT NULL, manifest TEXT NOT NULL, sources TEXT NOT NULL,
        attempts INTEGER NOT NULL, due TEXT NOT NULL, state TEXT NOT NULL, last_error TEXT
    )""",
        "CREATE INDEX fed_queue_due ON fed_queue(state, due)",
        "CREATE INDEX fed_queue_cid ON fed_queue(cid)",
        "CREATE TABLE fed_sources (cid TEXT NOT NULL, source TEXT NOT NULL, PRIMARY KEY (cid, source))",
        "CREATE TABLE fed_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, content TEXT NOT NULL)",
    ),
)

PROMPTS = Migration(
    4,
    "prompt library",
    (
        """CREATE TABLE prompts (
        id TEXT PRIMARY KEY, text TEXT NOT NULL, kind TEXT NOT NULL, generator TEXT, settings TEXT NOT NULL,
        author_platform TEXT, author_id TEXT, author_name TEXT, created_at TEXT NOT NULL
    )""",
        """CREATE TABLE prompt_tracks (
        prompt_id TEXT NOT NULL, track_id TEXT NOT NULL, PRIMARY KEY (prompt_id, track_id)
    )""",
        "CREATE INDEX prompt_tracks_track ON prompt_tracks(track_id)",
        """CREATE VIRTUAL TABLE prompts_fts USING fts5(
        text, content='prompts', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2',
        prefix='2 3 4 5 6')""",
        "CREATE VIRTUAL TABLE prompts_vocab USING fts5vocab(prompts_fts, 'row')",
        """CREATE TRIGGER prompts_fts_insert AFTER INSERT ON prompts BEGIN
        INSERT INTO prompts_fts(rowid, text) VALUES (new.rowid, new.text);
    END""",
        """CREATE TRIGGER prompts_fts_delete AFTER DELETE ON prompts BEGIN
        INSERT INTO prompts_fts(prompts_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
    END""",
    ),
)

from storage.sqlite import schema_chat as _chat  # noqa: E402
from storage.sqlite import schema_curation as _curation  # noqa: E402
from storage.sqlite import schema_federated_round_followups as _fr2  # noqa: E402
from storage.sqlite import schema_federated_rounds as _fr  # noqa: E402
from storage.sqlite import schema_federation_ops as _fed_ops  # noqa: E402
from storage.sqlite import schema_key_rotation as _key_rotation  # noqa: E402
from storage.sqlite import schema_prompts as _prompts  # noqa: E402
from storage.sqlite import schema_provenance as _provenance  # noqa: E402
from storage.sqlite import schema_scale as _scale  # noqa: E402
from storage.sqlite import schema_web as _web  # noqa: E402

EVENTS = Migration(
    20,
    "event outbox and subscriber checkpoints",
    (
        """CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        track_id TEXT,
        round_id INTEGER,
        extras TEXT NOT NULL
    )""",
        """CREATE TABLE event_checkpoints (
        subscriber TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    ),
)

MIGRATIONS: tuple[Migration, ...] = (
    TRACKS,
    BOT_STATE,
    GENRE_PLACES,
    PROMPTS,
    VOTING,
    FEDERATION,
    Migration(_prompts.PROMPT_TERMS_VERSION, _prompts.PROMPT_TERMS_NAME, _prompts.PROMPT_TERMS_STATEMENTS),
    Migration(_scale.SCALE_INDEXES_VERSION, _scale.SCALE_INDEXES_NAME, _scale.SCALE_INDEXES_STATEMENTS),
    EVENTS,
    Migration(_provenance.CONFIRMATIONS_VERSION, _provenance.CONFIRMATIONS_NAME, _provenance.CONFIRMATIONS_STATEMENTS),
    Migration(_provenance.NEAR_DUP_VERSION, _provenance.NEAR_DUP_NAME, _provenance.NEAR_DUP_STATEMENTS),
    Migration(_provenance.NEAR_DUP_SLIM_VERSION, _provenance.NEAR_DUP_SLIM_NAME, _provenance.NEAR_DUP_SLIM_STATEMENTS),
    Migration(_provenance.POSTED_CARDS_VERSION, _provenance.POSTED_CARDS_NAME, _provenance.POSTED_CARDS_STATEMENTS),
    Migration(
        _provenance.REPLICA_PROVENANCE_VERSION,
        _provenance.REPLICA_PROVENANCE_NAME,
        _provenance.REPLICA_PROVENANCE_STATEMENTS,
    ),
    Migration(_web.WEB_INDEXES_VERSION, _web.WEB_INDEXES_NAME, _web.WEB_INDEXES_STATEMENTS),
    Migration(_web.WEB_ENTRIES_VERSION, _web.WEB_ENTRIES_NAME, _web.WEB_ENTRIES_STATEMENTS),
    Migration(_curation.CURATION_VERSION, _curation.CURATION_NAME, _curation.CURATION_STATEMENTS),
    Migration(_curation.WEB_PLAYS_VERSION, _curation.WEB_PLAYS_NAME, _curation.WEB_PLAYS_STATEMENTS),
    Migration(_fr.FEDERATED_ROUNDS_VERSION, _fr.FEDERATED_ROUNDS_NAME, _fr.FEDERATED_ROUNDS_STATEMENTS),
    Migration(_chat.SHARER_NAME_VERSION, _chat.SHARER_NAME_NAME, _chat.SHARER_NAME_STATEMENTS),
    Migration(_fed_ops.OUTBOX_PARKING_VERSION, _fed_ops.OUTBOX_PARKING_NAME, _fed_ops.OUTBOX_PARKING_STATEMENTS),
    Migration(
        _key_rotation.KEY_ROTATION_VERSION, _key_rotation.KEY_ROTATION_NAME, _key_rotation.KEY_ROTATION_STATEMENTS
    ),
    Migration(_fr2.ENTRY_TITLE_VERSION, _fr2.ENTRY_TITLE_NAME, _fr2.ENTRY_TITLE_STATEMENTS),
    Migration(_scale.FED_ORIGIN_VERSION, _scale.FED_ORIGIN_NAME, _scale.FED_ORIGIN_STATEMENTS),
    Migration(
        _provenance.NEAR_DUP_SWEEP_VERSION, _provenance.NEAR_DUP_SWEEP_NAME, _provenance.NEAR_DUP_SWEEP_STATEMENTS
    ),
    Migration(_scale.VOTES_BY_TIME_VERSION, _scale.VOTES_BY_TIME_NAME, _scale.VOTES_BY_TIME_STATEMENTS),
)
