"""Federation operations: an outbox item the homeserver refuses for good is parked with its
error instead of holding every later item (``wavepool federation retry|drop``). Migration
statements only; the ``Migration`` itself is declared in ``migrations.py``."""

from __future__ import annotations

OUTBOX_PARKING_VERSION = 210
OUTBOX_PARKING_NAME = "federation outbox parking"
OUTBOX_PARKING_STATEMENTS: tuple[str, ...] = (
    "ALTER TABLE fed_outbox ADD COLUMN state TEXT NOT NULL DEFAULT 'pending'",
    "ALTER TABLE fed_outbox ADD COLUMN last_error TEXT",
    "CREATE INDEX fed_outbox_state ON fed_outbox(state, id)",
)
