"""The blob pool on disk: one file per CID, written once, verified when read.

Layout under the pool root::

    blobs/<2 chars>/<cid>     the blob, named by its CID only (path derived from the CID)
    tmp/<random>.part         in-flight writes; removed on failure and at start-up
    corrupt/<cid>.<time>      blobs that failed verification, kept for the operator

A write streams into ``tmp/``, hashing as it goes, fsyncs, then renames into place and
fsyncs the directory, so a crash leaves either the whole blob or nothing. Replication
stores a wave with ``sync_name=False`` and calls ``sync_names()`` once before recording
it: the data is still fsynced before its name exists, only the name's durability waits
for the batch (a name lost in a crash means a blob fetched again, never a short blob). An existing blob
is never overwritten: the same bytes already have the same name.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import secrets
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from core.cid import CidHasher, cid_from_digest, parse_cid
from core.errors import DISK_FULL_TEXT, IntegrityError, StorageError, TooLargeError
from core.model import Cid
from core.ports import VerifyReport

CHUNK = 1 << 20
_ANONYMOUS = getattr(os, "O_TMPFILE", None) if Path("/proc/self/fd").is_dir() else None
SPILL = 4 << 20  # bytes of a stream kept in memory before they go to the temp file


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dirs(paths: list[Path]) -> None:
    for path in paths:
        _fsync_dir(path)


def _hash_file(path: Path) -> tuple[Cid, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return cid_from_digest(digest.digest()), size


class DiskBlobPool:
    """``core.ports.BlobPool`` on a local folder."""

    def __init__(self, root: Path, fsync: bool = True) -> None:
        self.root = root
        self._blobs = root / "blobs"
        self._tmp = root / "tmp"
        self._corrupt = root / "corrupt"
        self._fsync = fsync
        self._total: int | None = None  # bytes in blobs/, counted once, then kept up to date
        self._unsynced: set[Path] = set()  # folders with new names not yet fsynced (sync_name=False)
        self._unsynced_lock = threading.Lock()
        for folder in (self._blobs, self._tmp, self._corrupt):
            folder.mkdir(parents=True, exist_ok=True)

    def path_for(self, cid: Cid) -> Path:
        """Where a blob lives; ``parse_cid`` guarantees the name stays inside the pool."""
        checked = parse_cid(cid)
        return self._blobs / checked[-2:] / checked

    # -- writing -----------------------------------------------------------------------

    def _new_temp(self) -> Path:
        return self._tmp / f"{secrets.token_hex(8)}.part"

    def _commit(self, temp: Path, cid: Cid, sync_name: bool = True) -> None:
        """fsync the temp file, then move it into place unless the blob already exists.

        The data is fsynced before the name exists, so a crash leaves the whole blob or no
        name at all; the folder fsync makes the name itself durable (now, or in
        ``sync_names`` for a batch).
        """
        final = self.path_for(cid)
        if final.exists():
            temp.unlink(missing_ok=True)
            return
        size = temp.stat().st_size
        final.parent.mkdir(parents=True, exist_ok=True)
        if self._fsync:
            with temp.open("rb") as handle:
                os.fsync(handle.fileno())
        try:
            os.link(temp, final)  # unlike rename, link never replaces an existing file
            if self._total is not None:
                self._total += size
        except FileExistsError:
            pass  # a concurrent writer stored the same bytes first
        temp.unlink(missing_ok=True)
        if self._fsync and sync_name:
            _fsync_dir(final.parent)
        elif self._fsync:
            with self._unsynced_lock:
                self._unsynced.add(final.parent)

    async def sync_names(self) -> None:
        """fsync every folder that got a name under ``sync_name=False``; one thread hop.

        On a journaling filesystem the first fsync commits every pending name at once, so
        a wave of blobs costs about one journal commit instead of one per blob.
        """
        with self._unsynced_lock:
            folders, self._unsynced = self._unsynced, set()
        if folders:
            await asyncio.to_thread(_fsync_dirs, sorted(folders))

    def _copy_in(self, source: Path, max_size: int | None) -> tuple[Cid, int]:
        if _ANONYMOUS is not None:
            try:
                fd = os.open(self._tmp, os.O_WRONLY | _ANONYMOUS, 0o644)
            except OSError:  # the filesystem has no anonymous files: use a named temp file
                pass
            else:
                return self._copy_in_anonymous(fd, source, max_size)
        temp = self._new_temp()
        hasher = CidHasher()
        try:
            with source.open("rb") as src, temp.open("wb") as dst:
                while chunk := src.read(CHUNK):
                    hasher.update(chunk)
                    if max_size is not None and hasher.size > max_size:
                        raise TooLargeError(_too_large(max_size))
                    dst.write(chunk)
            cid = hasher.cid()
            self._commit(temp, cid)
            return cid, hasher.size
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def _copy_in_anonymous(self, fd: int, source: Path, max_size: int | None) -> tuple[Cid, int]:
        """Copy into a file with no name (O_TMPFILE), fsync it, then give it its CID name.

        Same durability as the named temp file (data fsynced before the name exists, then the
        folder fsynced), without creating, reopening and unlinking a temp name; a crash
        leaves nothing to clean up.
        """
        hasher = CidHasher()
        try:
            with source.open("rb") as src:
                while chunk := src.read(CHUNK):
                    hasher.update(chunk)
                    if max_size is not None and hasher.size > max_size:
                        raise TooLargeError(_too_large(max_size))
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view) :]
            if self._fsync:
                os.fsync(fd)
            cid = hasher.cid()
            final = self.path_for(cid)
            if not final.exists():
                self._link_anonymous(fd, final, hasher.size)
            return cid, hasher.size
        finally:
            os.close(fd)

    def _link_anonymous(self, fd: int, final: Path, size: int, sync_name: bool = True) -> None:
        """Give a written, fsynced file with no name (O_TMPFILE) its CID name; fsync the folder now or in ``sync_names``."""
        final.parent.mkdir(parents=True, exist_ok=True)
        folder = os.open(final.parent, os.O_RDONLY)
        try:
            # linkat(AT_SYMLINK_FOLLOW) names the open file; os.link uses it only with a dir fd
            os.link(f"/proc/self/fd/{fd}", final.name, src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=True)
            if self._total is not None:
                self._total += size
        except FileExistsError:
            pass  # a concurrent writer stored the same bytes first
        finally:
            os.close(folder)
        if self._fsync and sync_name:
            _fsync_dir(final.parent)
        elif self._fsync:
            with self._unsynced_lock:
                self._unsynced.add(final.parent)

    def _store_whole(self, data: bytes, expect: Cid | None, sync_name: bool) -> Cid | None:
        """A stream held whole in memory: checked first, then written into a file with no name,
        fsynced and named (no temp name to create, reopen and remove); None without O_TMPFILE."""
        hasher = CidHasher()
        hasher.update(data)
        cid = hasher.cid()
        if expect is not None and cid != expect:
            raise IntegrityError(f"received bytes hash to {cid}, not the announced {expect}")
        final = self.path_for(cid)
        if final.exists():
            return cid
        if _ANONYMOUS is None:
            return None
        try:
            fd = os.open(self._tmp, os.O_WRONLY | _ANONYMOUS, 0o644)
        except OSError:  # the filesystem has no anonymous files
            return None
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if self._fsync:
                os.fsync(fd)  # the data is durable before the name exists
            self._link_anonymous(fd, final, len(data), sync_name)
        finally:
            os.close(fd)
        return cid

    async def put_file(self, path: Path, max_size: int | None = None) -> tuple[Cid, int]:
        """Copy a file into the pool, hashing while streaming; StorageError when the disk is full."""
        try:
            return await asyncio.to_thread(self._copy_in, path, max_size)
        except OSError as error:
            raise _disk_error(error) from error

    async def put_stream(
        self,
        chunks: AsyncIterator[bytes],
        max_size: int | None = None,
        expect: Cid | None = None,
        sync_name: bool = True,
    ) -> tuple[Cid, int]:
        """Store a stream; TooLargeError past ``max_size``; IntegrityError if not ``expect``.

        Bytes are gathered in memory up to ``SPILL`` and then written (and hashed) in a
        worker thread, so a typical track costs one thread hop for write, fsync and rename
        instead of one per network read; larger streams spill to the temp file as they come.
        A stream that fits in memory is checked before anything is written and goes into a
        file with no name (O_TMPFILE), fsynced, then linked to its CID: no temp name to
        create, reopen for the fsync and remove (three journal operations per blob fewer).
        """
        temp = self._new_temp()
        hasher = CidHasher()
        handle: BinaryIO | None = None

        def spill(data: bytes) -> None:  # worker thread: hashlib and writes release the GIL
            nonlocal handle
            if handle is None:
                handle = temp.open("wb")
            hasher.update(data)
            handle.write(data)

        def finish(data: bytes) -> Cid:  # worker thread: last bytes, check, fsync, rename
            if handle is None:  # the whole stream fit in memory (a typical track)
                whole = self._store_whole(data, expect, sync_name)
                if whole is not None:
                    return whole
            spill(data)
            assert handle is not None
            handle.close()
            cid = hasher.cid()
            if expect is not None and cid != expect:
                raise IntegrityError(f"received bytes hash to {cid}, not the announced {expect}")
            self._commit(temp, cid, sync_name)
            return cid

        total = 0
        pending: list[bytes] = []
        buffered = 0
        try:
            async for chunk in chunks:
                total += len(chunk)
                if max_size is not None and total > max_size:
                    raise TooLargeError(_too_large(max_size))
                pending.append(chunk)
                buffered += len(chunk)
                if buffered >= SPILL:
                    await asyncio.to_thread(spill, b"".join(pending))
                    pending, buffered = [], 0
            cid = await asyncio.to_thread(finish, b"".join(pending))
            return cid, total
        except BaseException as error:
            if handle is not None:
                with contextlib.suppress(OSError):  # closing flushes: on a full disk that fails too
                    handle.close()
            temp.unlink(missing_ok=True)
            if isinstance(error, OSError):
                raise _disk_error(error) from error
            raise

    # -- reading -----------------------------------------------------------------------

    async def has(self, cid: Cid) -> bool:
        """Whether the blob is present."""
        return self.path_for(cid).exists()

    async def size_of(self, cid: Cid) -> int | None:
        """Stored size, None when absent."""
        try:
            return self.path_for(cid).stat().st_size
        except FileNotFoundError:
            return None

    async def read(self, cid: Cid) -> bytes:
        """The whole blob, verified."""
        path = self.path_for(cid)
        data = await asyncio.to_thread(path.read_bytes)
        if cid_from_digest(hashlib.sha256(data).digest()) != cid:
            await asyncio.to_thread(self._quarantine, cid)
            raise IntegrityError(f"blob {cid} is corrupt; it was moved aside")
        return data

    async def stream(self, cid: Cid, chunk_size: int = 262144) -> AsyncIterator[bytes]:
        """The blob in chunks; IntegrityError after the last chunk when the bytes are wrong."""
        path = self.path_for(cid)
        hasher = CidHasher()
        handle = await asyncio.to_thread(path.open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, chunk_size):
                hasher.update(chunk)
                yield chunk
        finally:
            handle.close()
        if hasher.cid() != cid:
            await asyncio.to_thread(self._quarantine, cid)
            raise IntegrityError(f"blob {cid} is corrupt; it was moved aside")

    async def local_path(self, cid: Cid) -> Path | None:
        """The blob's file, or None."""
        path = self.path_for(cid)
        return path if path.exists() else None

    async def cids(self) -> AsyncIterator[Cid]:
        """Every stored CID."""
        names = await asyncio.to_thread(self._list)
        for name in names:
            yield Cid(name)

    def _list(self) -> list[str]:
        return sorted(p.name for p in self._blobs.glob("*/*") if p.is_file())

    async def total_bytes(self) -> int:
        """Bytes used by blobs (counted on first use, then maintained by writes and deletes)."""
        if self._total is None:
            self._total = await asyncio.to_thread(
                lambda: sum(p.stat().st_size for p in self._blobs.glob("*/*") if p.is_file())
            )
        return self._total

    # -- maintenance -------------------------------------------------------------------

    async def delete(self, cid: Cid) -> bool:
        """Remove a blob; True if it was there."""
        path = self.path_for(cid)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return False
        if self._total is not None:
            self._total -= size
        return True

    def _quarantine(self, cid: Cid) -> None:
        path = self.path_for(cid)
        if path.exists():
            size = path.stat().st_size
            os.replace(path, self._corrupt / f"{cid}.{int(time.time())}")
            if self._total is not None:
                self._total -= size

    def _verify_all(self) -> VerifyReport:
        checked = ok = total = 0
        corrupt: list[Cid] = []
        for name in self._list():
            path = self._blobs / name[-2:] / name
            cid, size = _hash_file(path)
            checked += 1
            total += size
            if cid == name:
                ok += 1
            else:
                corrupt.append(Cid(name))
                self._quarantine(Cid(name))
        return VerifyReport(checked=checked, ok=ok, corrupt=tuple(corrupt), bytes_checked=total)

    async def verify(self) -> VerifyReport:
        """Re-hash every blob; corrupt ones go to ``corrupt/``."""
        return await asyncio.to_thread(self._verify_all)

    async def clean_temp(self) -> int:
        """Remove temp files a crash left behind."""

        def clean() -> int:
            count = 0
            for part in self._tmp.glob("*.part"):
                part.unlink(missing_ok=True)
                count += 1
            return count

        return await asyncio.to_thread(clean)


def _too_large(max_size: int) -> str:
    return f"the file is larger than this instance accepts ({max_size / 1e6:.0f} MB)"


def _disk_error(error: OSError) -> OSError | StorageError:
    """A full disk (or quota) as a StorageError members can read; other OS errors as they are."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageError(DISK_FULL_TEXT)
    return error
