"""An opened instance: storage, services, the command registry and the outbox, typed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from config import Settings
from core.announcements import Announcements
from core.app import App
from core.commands.declaration import CommandRegistry
from storage.identity import Identity
from storage.sqlite.bot_state import BotState
from storage.sqlite.database import Database
from storage.sqlite.event_log import SqliteEventLog


@dataclass(frozen=True)
class Instance:
    """Everything the parts of a running instance (and the command line) share."""

    settings: Settings
    identity: Identity
    db: Database
    app: App
    registry: CommandRegistry
    state: BotState
    events: SqliteEventLog
    announcements: Announcements

    @property
    def data_dir(self) -> Path:
        """Where this instance keeps its data."""
        return self.settings.data_dir
