"""The track search index with the sharer's display name (``search alice`` finds Alice's tracks).

The full-text index is rebuilt with one more column, ``sharer_name``; its triggers follow.
Rebuilding reads every track once (a few seconds at 100,000 tracks, once). Migration
statements only; the ``Migration`` itself is declared in ``migrations.py``.
"""

from __future__ import annotations

SEARCH_SHARER_VERSION = 200
SEARCH_SHARER_NAME = "track search covers the sharer's name"
_COLUMNS = "title, artist, prompt, style, tags, genre, sharer_name"
_NEW = ", ".join(f"new.{c.strip()}" for c in _COLUMNS.split(","))
_OLD = ", ".join(f"old.{c.strip()}" for c in _COLUMNS.split(","))
SEARCH_SHARER_STATEMENTS: tuple[str, ...] = (
    "DROP TRIGGER IF EXISTS tracks_fts_insert",
    "DROP TRIGGER IF EXISTS tracks_fts_delete",
    "DROP TRIGGER IF EXISTS tracks_fts_update",
    "DROP TABLE IF EXISTS tracks_fts",
    f"""CREATE VIRTUAL TABLE tracks_fts USING fts5(
    {_COLUMNS}, content='tracks', content_rowid='rowid',
    tokenize='unicode61 remove_diacritics 2', prefix='2 3 4 5 6')""",
    f"""CREATE TRIGGER tracks_fts_insert AFTER INSERT ON tracks BEGIN
    INSERT INTO tracks_fts(rowid, {_COLUMNS}) VALUES (new.rowid, {_NEW});
    END""",
    f"""CREATE TRIGGER tracks_fts_delete AFTER DELETE ON tracks BEGIN
    INSERT INTO tracks_fts(tracks_fts, rowid, {_COLUMNS}) VALUES ('delete', old.rowid, {_OLD});
    END""",
    f"""CREATE TRIGGER tracks_fts_update AFTER UPDATE OF {_COLUMNS} ON tracks BEGIN
    INSERT INTO tracks_fts(tracks_fts, rowid, {_COLUMNS}) VALUES ('delete', old.rowid, {_OLD});
    INSERT INTO tracks_fts(rowid, {_COLUMNS}) VALUES (new.rowid, {_NEW});
    END""",
    "INSERT INTO tracks_fts(tracks_fts) VALUES ('rebuild')",
)
