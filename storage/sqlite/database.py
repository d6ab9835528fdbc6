"""The SQLite database: one aiosqlite connection, WAL, ordered migrations, transactions.

Writes that must land together go through ``transaction()``, which serialises writers
on this connection and commits (or rolls back) as one. WAL with ``synchronous=NORMAL``:
a committed transaction is in the WAL file when the call returns, so it survives kill -9 of
the process (the kernel holds the pages); only a power cut can lose the last commits before
a checkpoint. That trade removes an fsync per commit (replication writes several rows per
track). ``instance.sqlite_synchronous = "FULL"`` in the config buys power-loss durability.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from core.errors import DATABASE_BUSY_TEXT, DISK_FULL_TEXT, StorageError
from storage.sqlite.migrations import MIGRATIONS, Migration
from storage.sqlite.wal_checkpoints import WalCheckpointer

T = TypeVar("T")

log = logging.getLogger(__name__)

Row = aiosqlite.Row

_IN_TRANSACTION: contextvars.ContextVar[bool] = contextvars.ContextVar("in_transaction", default=False)
# What the open transaction runs once it has committed (``Database.after_commit``).
_AFTER_COMMIT: contextvars.ContextVar[list[Callable[[], None]] | None] = contextvars.ContextVar(
    "after_commit", default=None
)


class Database:
    """An open database; use ``Database.open``."""

    def __init__(self, conn: aiosqlite.Connection, path: Path, synchronous: str = "NORMAL") -> None:
        self._conn = conn
        self.path = path
        self._write_lock = asyncio.Lock()
        self._checkpoints = WalCheckpointer(path, synchronous)
        self._beside: dict[object, Any] = {}

    def beside(self, kind: type[T], make: Callable[[], T] | None = None) -> T:
        """The one ``kind`` kept beside this open database (``make()``, or ``kind()``, the first
        time): in-memory state that every repository object on it must share, so that each
        sees every committed change (e.g. the near-duplicate band table)."""
        found = self._beside.get(kind)
        if found is None:
            found = self._beside[kind] = make() if make is not None else kind()
        assert isinstance(found, kind)
        return found

    @classmethod
    async def open(
        cls, path: Path, migrations: Sequence[Migration] = MIGRATIONS, synchronous: str = "NORMAL"
    ) -> Database:
        """Open (creating if needed) and migrate to the newest schema."""
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        # wal_autocheckpoint=0: checkpoints run beside the commits (storage/sqlite/wal_checkpoints.py).
        pragmas = ("journal_mode=WAL", f"synchronous={synchronous}", "foreign_keys=ON", "busy_timeout=5000")
        try:
            for pragma in (*pragmas, "wal_autocheckpoint=0"):
                await conn.execute(f"PRAGMA {pragma}")
            db = cls(conn, path, synchronous)
            await db._migrate(migrations)
        except BaseException:  # not a database, or a migration failed: no connection thread left behind
            await conn.close()
            raise
        return db

    async def close(self) -> None:
        """Close the connection (the last one to close checkpoints the rest of the WAL)."""
        await asyncio.to_thread(self._checkpoints.close)
        await self._conn.close()

    async def _migrate(self, migrations: Sequence[Migration]) -> None:
        await self._conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL"
            " DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
        )
        async with self._conn.execute("SELECT version FROM schema_migrations") as cursor:
            done = {row[0] for row in await cursor.fetchall()}
        versions = [m.version for m in migrations]
        if len(versions) != len(set(versions)):
            raise RuntimeError("two migrations share a version number")
        for migration in sorted(migrations, key=lambda m: m.version):
            if migration.version in done:
                continue
            log.info("database %s: applying migration %d %s", self.path.name, migration.version, migration.name)
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in migration.statements:
                    await self._conn.execute(statement)
                await self._conn.execute(
                    "INSERT INTO schema_migrations(version, name) VALUES (?, ?)",
                    (migration.version, migration.name),
                )
                await self._conn.execute("COMMIT")
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise

    async def schema_version(self) -> int:
        """The newest applied migration."""
        row = await self.fetchone("SELECT max(version) FROM schema_migrations")
        return int(row[0] or 0) if row else 0

    # -- queries -----------------------------------------------------------------------

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """The first row, or None (one trip to the database thread)."""
        rows = await self._conn.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Every row (one trip to the database thread, not three)."""
        return list(await self._conn.execute_fetchall(sql, params))

    async def fetchall_committed(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Every row, read between transactions: never another task's uncommitted writes.

        All tasks share one connection, which would otherwise see a transaction that is
        still open (and may yet roll back); the outbox must never hand out such an event.
        """
        if _IN_TRANSACTION.get():
            return await self.fetchall(sql, params)
        async with self._write_lock:
            return await self.fetchall(sql, params)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One write in its own transaction (or the current one); returns rows changed."""
        if _IN_TRANSACTION.get():
            cursor = await self._conn.execute(sql, params)
            return cursor.rowcount
        async with self.transaction() as tx:
            return await tx.execute(sql, params)

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One INSERT (in its own or the current transaction); the new row's id."""
        if _IN_TRANSACTION.get():
            cursor = await self._conn.execute(sql, params)
            return int(cursor.lastrowid or 0)
        async with self.transaction() as tx:
            return await tx.insert(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Many writes in one transaction."""
        if _IN_TRANSACTION.get():
            await self._conn.executemany(sql, rows)
            return
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the current transaction has committed (at once outside one; never after a rollback).

        For state kept beside the database (e.g. an in-memory index) that must only ever
        show committed rows; a callback's error is logged, the commit stands.
        """
        pending = _AFTER_COMMIT.get()
        if pending is None:
            _run_callbacks([callback])
        else:
            pending.append(callback)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        """``async with db.transaction() as tx:`` — all writes inside commit together."""
        if _IN_TRANSACTION.get():
            yield self  # nested: part of the enclosing transaction
            return
        async with self._write_lock:
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                raise _storage_error(error) from error
            token = _IN_TRANSACTION.set(True)
            callbacks: list[Callable[[], None]] = []
            callbacks_token = _AFTER_COMMIT.set(callbacks)
            try:
                yield self
            except BaseException as error:
                await self._rollback()
                if isinstance(error, sqlite3.OperationalError):
                    raise _storage_error(error) from error
                raise
            else:
                try:
                    await self._conn.execute("COMMIT")
                except sqlite3.OperationalError as error:
                    # A failed COMMIT (disk full, lock held elsewhere) can leave the transaction
                    # open: end it, or every later write on this connection would fail too.
                    await self._rollback()
                    raise _storage_error(error) from error
                self._checkpoints.committed()
                _run_callbacks(callbacks)
            finally:
                _AFTER_COMMIT.reset(callbacks_token)
                _IN_TRANSACTION.reset(token)

    async def _rollback(self) -> None:
        if self._conn.in_transaction:
            try:
                await self._conn.execute("ROLLBACK")
            except sqlite3.OperationalError as error:  # SQLite may have rolled back already
                log.warning("rollback failed: %s", error)


def _run_callbacks(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("after-commit callback failed")


def _storage_error(error: sqlite3.OperationalError) -> Exception:
    """A full disk or a database held by another program as a StorageError; others as they are."""
    text = str(error).lower()
    if "full" in text:
        return StorageError(DISK_FULL_TEXT)
    if "locked" in text or "busy" in text:
        return StorageError(DATABASE_BUSY_TEXT)
    return error
