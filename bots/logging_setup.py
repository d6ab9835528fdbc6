"""Structured logs: plain text for people, one JSON object per line for machines."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

LIBRARY_LOGGERS = (
    "nio",
    "aiohttp",
    "aiohttp.access",
    "discord",
    "apscheduler",
    "aiosqlite",
    "asyncio",
    "urllib3",
    "peewee",
)
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with any ``extra=`` fields kept."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger once (stderr)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # our loggers at the configured level; libraries (nio logs every event at INFO) at
    # WARNING unless the operator asked for DEBUG
    library_level = root.level if root.level <= logging.DEBUG else max(logging.WARNING, root.level)
    for noisy in LIBRARY_LOGGERS:
        logging.getLogger(noisy).setLevel(library_level)
