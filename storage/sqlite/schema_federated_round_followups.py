"""Schema of cross-community round follow-ups (migration 181): an entry's title travels with it,
for the "still arriving" card. Statements only; the ``Migration`` is declared in ``migrations.py``."""

from __future__ import annotations

ENTRY_TITLE_VERSION = 181
ENTRY_TITLE_NAME = "federated round entry titles"
ENTRY_TITLE_STATEMENTS: tuple[str, ...] = ("ALTER TABLE fr_entries ADD COLUMN title TEXT",)
