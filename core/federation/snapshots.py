"""Snapshots: the manifest index as one verified blob, for late joiners."""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path

from core.federation.intake import Intake
from core.federation.manifest import (
    canonical_json,
)
from core.federation.outcomes import OutcomeKind
from core.model import Cid

log = logging.getLogger(__name__)


class Snapshots(Intake):
    """Snapshots: the manifest index as one verified blob, for late joiners."""

    # -- snapshots ---------------------------------------------------------------------

    async def build_snapshot(self, work_dir: Path) -> tuple[Cid, int, Path]:
        """Every known manifest as JSON lines, stored in the pool; (cid, count, path)."""
        work_dir.mkdir(parents=True, exist_ok=True)
        count = 0
        with tempfile.NamedTemporaryFile("wb", dir=work_dir, suffix=".jsonl", delete=False) as handle:
            async for manifest in self.store.manifests():
                handle.write(canonical_json(manifest) + b"\n")
                count += 1
            temp = Path(handle.name)
        try:
            cid, _size = await self._pool.put_file(temp)
        finally:
            temp.unlink(missing_ok=True)
        path = await self._pool.local_path(cid)
        assert path is not None
        return cid, count, path

    async def load_snapshot(self, cid: Cid, source: Mapping[str, str], max_bytes: int = 2 * 1024**3) -> int:
        """Fetch a peer's snapshot, verify it against its CID, take in every entry; returns entries.

        The snapshot passes through the pool (streamed, capped, verified) and leaves it again:
        no track references it.
        """
        await self._pool.put_stream(self._sources.open(source, max_bytes), max_size=max_bytes, expect=cid)
        taken = 0
        path = await self._pool.local_path(cid)
        assert path is not None
        try:
            with path.open("rb") as handle:
                for line in handle:
                    try:
                        manifest = json.loads(line)
                    except (ValueError, RecursionError):
                        continue
                    if not isinstance(manifest, Mapping):  # one bad line must not abort the rest
                        continue
                    outcome = await self._take_track(None, None, manifest)
                    if outcome.kind in (OutcomeKind.QUEUED, OutcomeKind.KNOWN):
                        taken += 1
        finally:
            await self._pool.delete(cid)
        return taken
