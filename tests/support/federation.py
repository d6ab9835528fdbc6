"""Publishing many tracks from an in-process instance quickly (no audio analysis)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from tests.support.factories import make_track, member
from tests.support.instances import Running


async def publish_fast(run: Running, count: int, work: Path, size: int = 2000) -> list[str]:
    """Add ``count`` tracks of random bytes straight to the instance and publish them."""
    app, runner = run.instance.app, run.parts.federation.runner
    ids = []
    for index in range(count):
        blob = work / f"blob{index}.bin"
        blob.write_bytes(os.urandom(size) + index.to_bytes(4, "big"))
        cid, stored = await app.pool.put_file(blob)
        blob.unlink()
        track = replace(
            make_track(member("alice"), f"Song {index}"),
            cid=cid,
            size=stored,
            origin_instance=run.instance.identity.instance_id,
        )
        await app.tracks.add(track)
        await runner.replicator.publish_track(track)
        ids.append(track.id)
    runner.wake()
    return ids
