"""Band rows of deleted near-duplicate docs, removed in the background (migration 235).

A delete removes the track's fingerprint copy and records its doc number and bands in
``near_dup_forgotten``, in the caller's transaction; lookups stop finding it at once (its
copy is gone, and the in-memory table drops it at the commit). Its 32 band rows sit in 32
random leaves of the band B-tree, which lookups no longer read, so they are usually cold:
deleting them inline made a takedown pay ~32 disk reads. Here they are read first, outside
any write lock, then deleted in short transactions by a thread of its own.

Doc numbers of forgotten docs are never reused while they wait (``NEXT_DOC_SQL``), so a
sweep can never delete a newer track's rows.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from array import array
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

SWEEP_DOCS = 4  # docs a transaction: ~128 deletes of cached pages, a millisecond of write lock
# A sweep starts once deletes have paused this long: a takedown of many tracks does not find
# each of its deletes waiting for the sweep's write lock.
QUIET_S = 1.0
# The next doc number: above every live and every forgotten doc.
NEXT_DOC_SQL = (
    "SELECT coalesce(max(d), 0) + 1 FROM"
    " (SELECT max(doc) AS d FROM near_dup_docs UNION ALL SELECT max(doc) FROM near_dup_forgotten)"
)


def pack_bands(bands: Sequence[int]) -> bytes:
    """Bands as a blob (8 bytes each)."""
    return array("q", bands).tobytes()


def unpack_bands(blob: bytes) -> list[int]:
    """``pack_bands`` undone."""
    bands = array("q")
    bands.frombytes(blob)
    return bands.tolist()


def sweep_once(path: Path, docs: int = SWEEP_DOCS) -> int:
    """Delete the band rows of up to ``docs`` forgotten docs (blocking); how many docs were swept."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=30.0, isolation_level=None)
    try:
        # as the instance connection: no fsync per commit in WAL, checkpoints left to the instance
        for pragma in ("synchronous=NORMAL", "wal_autocheckpoint=0"):
            conn.execute(f"PRAGMA {pragma}")
        rows = conn.execute("SELECT doc, bands FROM near_dup_forgotten ORDER BY doc LIMIT ?", (docs,)).fetchall()
        if not rows:
            return 0
        pairs = sorted((band, int(doc)) for doc, blob in rows for band in unpack_bands(blob))
        marks = ", ".join("?" * len(pairs))
        # Read the leaves before taking the write lock: the transaction then only writes cached pages.
        conn.execute(f"SELECT count(*) FROM near_dup_bands WHERE band IN ({marks})", [b for b, _ in pairs]).fetchone()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("DELETE FROM near_dup_bands WHERE band = ? AND doc = ?", pairs)
            conn.executemany("DELETE FROM near_dup_forgotten WHERE doc = ?", [(int(doc),) for doc, _ in rows])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return len(rows)
    finally:
        conn.close()


def sweep_all(path: Path) -> int:
    """Sweep until nothing is forgotten (blocking); how many docs were swept."""
    swept = 0
    while done := sweep_once(path):
        swept += done
    return swept


class BandSweeper:
    """Runs ``sweep_all`` in a daemon thread when kicked; one at a time, again if kicked meanwhile."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._running = False
        self._again = False
        self._last_kick = 0.0
        self.swept = 0

    def kick(self) -> None:
        """Sweep soon (after a committed delete, or at start-up for deletes a stop left behind)."""
        with self._lock:
            self._last_kick = time.monotonic()
            if self._running:
                self._again = True
                return
            self._running = True
        threading.Thread(target=self._run, name="near-dup sweep", daemon=True).start()

    def _run(self) -> None:
        while True:
            while (wait := self._last_kick + QUIET_S - time.monotonic()) > 0:  # at most QUIET_S a kick
                time.sleep(wait)
            try:
                self.swept += sweep_all(self._path)
            except Exception:  # the rows wait for the next kick; nothing is wrong meanwhile
                log.exception("near-duplicate sweep stopped")
            with self._lock:
                if not self._again:
                    self._running = False
                    return
                self._again = False
