"""Key rotation: an instance's old key binding is kept (its id stays claimed, its past
manifests keep their origin) but retired, so the account's new key is the one that counts.
Migration statements only; the ``Migration`` itself is declared in ``migrations.py``."""

from __future__ import annotations

KEY_ROTATION_VERSION = 140
KEY_ROTATION_NAME = "retired peer key bindings"
KEY_ROTATION_STATEMENTS: tuple[str, ...] = ("ALTER TABLE fed_peers ADD COLUMN retired_at TEXT",)
