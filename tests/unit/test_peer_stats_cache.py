"""Peer counts are read once for members asking together, and again after 30 seconds."""

from __future__ import annotations

import asyncio
from typing import Any

from bots.federation.stored_info import PEER_STATS_TTL_S, StoredFederationInfo


class CountingStore:
    def __init__(self) -> None:
        self.reads = 0

    async def peer_stats(self) -> list[Any]:
        self.reads += 1
        await asyncio.sleep(0)
        return [f"read {self.reads}"]


async def test_peer_stats_are_shared_within_the_ttl_and_read_again_after() -> None:
    now = [1000.0]
    store = CountingStore()
    info = StoredFederationInfo(None, "i", store, None, clock=lambda: now[0])  # type: ignore[arg-type]
    answers = await asyncio.gather(*(info.peer_stats() for _ in range(5)))
    assert store.reads == 1 and all(a == ["read 1"] for a in answers)
    now[0] += PEER_STATS_TTL_S - 1
    assert await info.peer_stats() == ["read 1"]
    now[0] += 1
    assert await info.peer_stats() == ["read 2"] and store.reads == 2
