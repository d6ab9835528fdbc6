"""Fixtures of the chaos tests: a small filesystem that can fill up."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


class SmallDisk:
    """A size-limited tmpfs (``mount -t tmpfs -o size=…``, root only) that a filler file fills up."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / "filler.bin"

    def free(self) -> int:
        """Bytes still free."""
        stats = os.statvfs(self.root)
        return stats.f_bavail * stats.f_frsize

    def fill(self, leave: int = 0) -> None:
        """Take all space but ``leave`` bytes (the disk is "full" for anything bigger)."""
        with self.filler.open("ab") as out:
            while self.free() > leave + 4096:
                try:
                    out.write(b"\0" * min(1 << 20, self.free() - leave - 4096))
                    out.flush()
                except OSError:
                    break

    def clear(self) -> None:
        """Space returns."""
        self.filler.unlink(missing_ok=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    """A 24 MB tmpfs at ``tmp_path/disk``; skipped where mounting is not allowed."""
    root = tmp_path / "disk"
    root.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(root)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield SmallDisk(root)
    finally:
        with contextlib.suppress(Exception):
            subprocess.run(["umount", "-l", str(root)], check=False, timeout=30)
