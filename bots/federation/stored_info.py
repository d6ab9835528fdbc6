"""What the federation commands show, read from storage: the same answer whether the
command runs inside ``wavepool run`` or from a terminal while the instance is stopped."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from config import Settings
from core.federation.ports import PeerStats
from core.recent_value import RecentValue
from storage.sqlite.bot_state import BotState
from storage.sqlite.federation_store import SqliteFederationStore

NAMESPACE = "federation"
# Peer counts join every replicated manifest to its track (~165 ms at 30,000 replicated
# tracks, bench/scale.py): members asking within this many seconds share one read.
PEER_STATS_TTL_S = 30.0


class StoredFederationInfo:
    """``core.federation.ports.FederationInfo`` over the federation tables and state."""

    def __init__(
        self,
        settings: Settings,
        instance_id: str,
        store: SqliteFederationStore,
        state: BotState,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._instance_id = instance_id
        self._store = store
        self._state = state
        self._peer_stats = RecentValue(store.peer_stats, PEER_STATS_TTL_S, clock)

    async def peer_stats(self) -> Sequence[PeerStats]:
        """Peers seen in the rooms, with what each contributed here (read at most every 30 s)."""
        return await self._peer_stats.get()

    async def status(self) -> Mapping[str, Any]:
        """Rooms, checkpoint, queue, outbox and failing fetches."""
        extra = json.loads(await self._state.get(NAMESPACE, "rooms") or "[]")
        left = set(json.loads(await self._state.get(NAMESPACE, "left") or "[]"))
        rooms = [r for r in dict.fromkeys((*self._settings.federation.rooms, *extra)) if r not in left]
        return {
            "instance": self._instance_id,
            "rooms": rooms,
            "waiting": json.loads(await self._state.get(NAMESPACE, "waiting") or "[]"),
            "checkpoint": await self._state.get(NAMESPACE, "since"),
            "queue": await self._store.queue_size(),
            "queue_by_state": dict(await self._store.queue_counts()),
            "outbox": len(await self._store.outbox_pending(1000)),
            "parked_outbox": len(await self._store.outbox_parked(1000)),
            "failures": [
                {"cid": i.cid, "attempts": i.attempts, "error": i.last_error} for i in await self._store.failures(10)
            ],
        }


class StoredPeerDigests:
    """``core.services.digest.PeerDigests``: peers' published digests kept by the room reader."""

    def __init__(self, state: BotState, blocked: Sequence[str]) -> None:
        self._state = state
        self._blocked = set(blocked)

    async def highlights(self) -> list[tuple[str, list[str]]]:
        """(peer name, its week's top titles) for every peer not blocked here."""
        out: list[tuple[str, list[str]]] = []
        for key in await self._state.keys(NAMESPACE, "digest:"):
            if key[len("digest:") :] in self._blocked:
                continue
            raw = await self._state.get(NAMESPACE, key)
            if raw is None:
                continue
            digest = json.loads(raw)
            if not isinstance(digest, dict):
                continue
            data: dict[str, Any] = digest["data"] if isinstance(digest.get("data"), dict) else {}
            origin: dict[str, Any] = digest["origin"] if isinstance(digest.get("origin"), dict) else {}
            top: list[Any] = data["top"] if isinstance(data.get("top"), list) else []
            titles = [str(row.get("title"))[:200] for row in top if isinstance(row, dict)]
            out.append((str(origin.get("name") or key[len("digest:") :])[:100], titles))
        return out
