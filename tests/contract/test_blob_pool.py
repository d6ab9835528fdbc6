"""The disk blob pool: addressing, atomic writes, verification, corruption handling."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.cid import cid_of, is_cid, parse_cid
from core.errors import IntegrityError, TooLargeError, UsageError
from storage.blob_pool import DiskBlobPool


async def _chunks(*parts: bytes):
    for part in parts:
        yield part


def test_cid_of_empty_bytes_matches_ipfs() -> None:
    assert cid_of(b"") == "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    assert is_cid(cid_of(b"hello"))
    for bad in ("", "bafy", "../../etc/passwd", "Bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"):
        with pytest.raises(UsageError):
            parse_cid(bad)


async def test_put_read_idempotent(tmp_path: Path) -> None:
    pool = DiskBlobPool(tmp_path / "pool")
    source = tmp_path / "a.bin"
    data = os.urandom(3_000_000)
    source.write_bytes(data)
    cid, size = await pool.put_file(source)
    assert cid == cid_of(data) and size == len(data)
    assert await pool.read(cid) == data
    again, _ = await pool.put_file(source)
    assert again == cid
    assert [c async for c in pool.cids()] == [cid]
    assert await pool.total_bytes() == len(data)
    path = await pool.local_path(cid)
    assert path is not None and path.name == cid  # path derived from the CID alone
    assert not list((tmp_path / "pool" / "tmp").iterdir())


async def test_stream_with_expectation_and_cap(tmp_path: Path) -> None:
    pool = DiskBlobPool(tmp_path / "pool")
    good = cid_of(b"abcdef")
    cid, size = await pool.put_stream(_chunks(b"abc", b"def"), expect=good)
    assert cid == good and size == 6
    with pytest.raises(IntegrityError):
        await pool.put_stream(_chunks(b"xyz"), expect=good)
    with pytest.raises(TooLargeError):
        await pool.put_stream(_chunks(b"a" * 10, b"b" * 10), max_size=15)
    assert not list((tmp_path / "pool" / "tmp").iterdir())
    assert [c async for c in pool.cids()] == [good]


async def test_verify_isolates_corruption(tmp_path: Path) -> None:
    pool = DiskBlobPool(tmp_path / "pool")
    cids = []
    for index in range(3):
        cid, _ = await pool.put_stream(_chunks(f"blob {index}".encode() * 1000))
        cids.append(cid)
    victim = await pool.local_path(cids[1])
    assert victim is not None
    raw = bytearray(victim.read_bytes())
    raw[100] ^= 0xFF
    victim.write_bytes(bytes(raw))
    report = await pool.verify()
    assert report.checked == 3 and report.ok == 2 and report.corrupt == (cids[1],)
    assert not await pool.has(cids[1])
    assert len(list((tmp_path / "pool" / "corrupt").iterdir())) == 1


async def test_read_detects_corruption(tmp_path: Path) -> None:
    pool = DiskBlobPool(tmp_path / "pool")
    cid, _ = await pool.put_stream(_chunks(b"x" * 5000))
    path = await pool.local_path(cid)
    assert path is not None
    path.write_bytes(b"y" * 5000)
    with pytest.raises(IntegrityError):
        await pool.read(cid)
    cid2, _ = await pool.put_stream(_chunks(b"z" * 5000))
    path2 = await pool.local_path(cid2)
    assert path2 is not None
    path2.write_bytes(b"w" * 5000)
    with pytest.raises(IntegrityError):
        async for _ in pool.stream(cid2, chunk_size=1000):
            pass


async def test_clean_temp_removes_leftovers(tmp_path: Path) -> None:
    pool = DiskBlobPool(tmp_path / "pool")
    (tmp_path / "pool" / "tmp" / "dead.part").write_bytes(b"half")
    assert await pool.clean_temp() == 1


# -- the same contract for every BlobPool implementation ------------------------------------


@pytest.fixture(params=["disk", "memory"])
def any_pool(request: pytest.FixtureRequest, tmp_path: Path):
    from storage.memory import MemoryBlobPool

    return DiskBlobPool(tmp_path / "pool") if request.param == "disk" else MemoryBlobPool()


async def _corrupt(pool, cid) -> None:  # type: ignore[no-untyped-def]
    if isinstance(pool, DiskBlobPool):
        path = await pool.local_path(cid)
        assert path is not None
        path.write_bytes(b"changed")
    else:
        pool.blobs[cid] = b"changed"


async def test_contract_store_read_stream(any_pool) -> None:  # type: ignore[no-untyped-def]
    cid, size = await any_pool.put_stream(_chunks(b"abc", b"def"))
    assert cid == cid_of(b"abcdef") and size == 6 and await any_pool.has(cid)
    assert await any_pool.read(cid) == b"abcdef"
    assert b"".join([c async for c in any_pool.stream(cid, chunk_size=4)]) == b"abcdef"
    assert await any_pool.put_stream(_chunks(b"abcdef")) == (cid, 6)
    assert [c async for c in any_pool.cids()] == [cid]
    assert await any_pool.size_of(cid) == 6 and await any_pool.total_bytes() == 6
    assert await any_pool.delete(cid) and not await any_pool.delete(cid)
    assert await any_pool.size_of(cid) is None and await any_pool.total_bytes() == 0


async def test_contract_refuses_wrong_or_oversized_bytes(any_pool) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IntegrityError):
        await any_pool.put_stream(_chunks(b"xyz"), expect=cid_of(b"abc"))
    with pytest.raises(TooLargeError):
        await any_pool.put_stream(_chunks(b"a" * 10, b"b" * 10), max_size=15)
    assert [c async for c in any_pool.cids()] == []


async def test_contract_verify_and_read_isolate_corruption(any_pool) -> None:  # type: ignore[no-untyped-def]
    good, _ = await any_pool.put_stream(_chunks(b"good" * 100))
    bad, _ = await any_pool.put_stream(_chunks(b"bad" * 100))
    await _corrupt(any_pool, bad)
    report = await any_pool.verify()
    assert (report.checked, report.ok, report.corrupt) == (2, 1, (bad,))
    assert await any_pool.has(good) and not await any_pool.has(bad)
    other, _ = await any_pool.put_stream(_chunks(b"other" * 100))
    await _corrupt(any_pool, other)
    with pytest.raises(IntegrityError):
        await any_pool.read(other)


async def test_deferred_names_are_fsynced_once_per_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Replication stores a wave with sync_name=False: data fsynced, folders fsynced once in sync_names."""
    import storage.blob_pool as blob_pool

    synced: list[Path] = []
    real = blob_pool._fsync_dir
    monkeypatch.setattr(blob_pool, "_fsync_dir", lambda path: (synced.append(path), real(path)))
    data_fsyncs: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(blob_pool.os, "fsync", lambda fd: (data_fsyncs.append(fd), real_fsync(fd))[1])
    pool = DiskBlobPool(tmp_path / "pool")
    blobs = [f"wave blob {index}".encode() * 500 for index in range(6)]
    cids = [(await pool.put_stream(_chunks(blob), expect=cid_of(blob), sync_name=False))[0] for blob in blobs]
    assert synced == [] and len(data_fsyncs) == 6  # each blob's bytes are durable before its name exists
    assert [await pool.read(cid) for cid in cids] == blobs
    await pool.sync_names()
    assert sorted(synced) == sorted({pool.path_for(cid).parent for cid in cids})
    synced.clear()
    await pool.sync_names()
    assert synced == []
    await pool.put_stream(_chunks(b"named now"))
    assert synced == [pool.path_for(cid_of(b"named now")).parent]
