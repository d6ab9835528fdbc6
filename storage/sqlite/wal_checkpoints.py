"""WAL checkpoints off the commit path: a connection of their own, run in a short-lived thread.

SQLite's automatic checkpoint runs inside the COMMIT that crosses 1,000 WAL pages: that one
commit copies ~4 MB into the database file and fsyncs it, tens of milliseconds, so the p99
of every write (a vote, a share, a near-duplicate insert touching 32 B-tree leaves) was a
checkpoint. The instance connection turns the automatic checkpoint off and, after a commit,
hands a PASSIVE checkpoint to a worker thread with its own connection: PASSIVE never waits
for readers or writers, and a commit that arrives meanwhile only appends to the WAL.
A crash loses nothing either way (committed frames are in the WAL, which SQLite replays).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

# At most one checkpoint per this many seconds: a burst of commits is copied in one go.
MIN_INTERVAL_S = 0.5


class WalCheckpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` in a background thread after commits."""

    def __init__(self, path: Path, synchronous: str, min_interval_s: float = MIN_INTERVAL_S) -> None:
        self._path = path
        self._synchronous = synchronous
        self._min_interval_s = min_interval_s
        self._conn: sqlite3.Connection | None = None
        self._thread: threading.Thread | None = None
        self._last = 0.0
        self._closed = False
        self._lock = threading.Lock()
        self.runs = 0  # checkpoints done (tests and diagnostics)

    def committed(self) -> None:
        """Note a commit: start a checkpoint unless one is running or one ran just now."""
        now = time.monotonic()
        with self._lock:
            if self._closed or now - self._last < self._min_interval_s:
                return
            if self._thread is not None and self._thread.is_alive():
                return
            self._last = now
            self._thread = threading.Thread(target=self._checkpoint, name="wal-checkpoint", daemon=True)
            self._thread.start()

    def _checkpoint(self) -> None:
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(self._path, check_same_thread=False, timeout=1.0)
                self._conn.execute(f"PRAGMA synchronous={self._synchronous}")
            busy, frames, copied = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.runs += 1
            log.debug("checkpoint of %s: %s of %s WAL frames copied (busy=%s)", self._path.name, copied, frames, busy)
        except sqlite3.Error as error:  # disk full, file gone: the WAL keeps the data, a later commit retries
            log.warning("WAL checkpoint of %s failed: %s", self._path.name, error)

    def close(self, timeout_s: float = 30.0) -> None:
        """Wait for a running checkpoint and close the checkpoint connection."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        if self._conn is not None and (thread is None or not thread.is_alive()):
            self._conn.close()
            self._conn = None
