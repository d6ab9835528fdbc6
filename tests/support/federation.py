"""Publishing many tracks from an in-process instance quickly (no audio analysis)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from bots.federation.part import ROOM_EVENT_LEVELS
from tests.support.factories import make_track, member
from tests.support.homeserver import Homeserver
from tests.support.instances import Running, write_config


def federation_room(
    synapse: Homeserver,
    tmp_path: Path,
    names: str = "abc",
    extra: Callable[[str], Mapping[str, Any]] = lambda _name: {},
) -> tuple[str, dict[str, Path], tuple[str, str]]:
    """A federation room (made by an owner account) and, per name, an instance account and its
    config joined to it; ``extra(name)`` adds config tables. Returns room, configs, owner."""
    owner, owner_token = synapse.register(f"owner{os.urandom(3).hex()}")
    room = synapse.create_room(owner_token, name="wavepool federation", events=ROOM_EVENT_LEVELS)
    configs = {}
    for name in names:
        user, token = synapse.register(f"{name}{os.urandom(3).hex()}")
        tables = {  # extra tables first: [instance] keys must follow the file's [instance] header
            **extra(name),
            "matrix": {"homeserver": synapse.url, "user_id": user, "access_token": token},
            "federation": {"rooms": [room]},
            "http": {"port": 0},
        }
        configs[name] = write_config(tmp_path / f"{name}.toml", tmp_path / name, **tables)
    return room, configs, (owner, owner_token)


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
