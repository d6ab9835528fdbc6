"""Remix lineage: which track a share derives from (remix, extend, cover, sample, stems).

A link names its parent by CID, so a remix on one instance of a track from another
stays linked when either crosses the federation (the link rides in the signed manifest
as ``lineage``). Linking a local share records ``TRACK_REMIXED`` in the same transaction,
so the parent's sharer is told through the announcements; a peer's manifest whose parent
is one of ours does the same. Stems are children with the ``stems`` relation: each file
is its own track and blob, and the parent's card lists them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.curation_ports import CurationStore, LineageLink, Relation
from core.errors import NotFoundError, UsageError
from core.events.model import DomainEvent, EventKind, Origin
from core.events.ports import EventLog
from core.model import Cid, Track, TrackId
from core.ports import Clock, TrackRepository
from core.visibility import Viewer, can_see

log = logging.getLogger(__name__)

MAX_DEPTH = 8  # ancestors and descendants shown by ``lineage``
MAX_NODES = 60


@dataclass(frozen=True)
class Node:
    """A track in a lineage tree (``track`` None: known only by CID, on another instance)."""

    cid: Cid
    track: Track | None
    relation: Relation | None  # how it derives from the node above it
    depth: int  # 0 for the track asked about; negative for ancestors


@dataclass(frozen=True)
class Family:
    """A track's parent link and its children, for its card."""

    parent: LineageLink | None
    parent_track: Track | None
    children: tuple[LineageLink, ...]
    stems: tuple[Track, ...]


def relation_of(text: str | None) -> Relation:
    """The relation a member named (default remix)."""
    if not text:
        return Relation.REMIX
    try:
        return Relation(text.strip().lower())
    except ValueError:
        raise UsageError(f"the relation is one of: {', '.join(r.value for r in Relation)}") from None


def lineage_manifest_field(link: LineageLink | None) -> dict[str, Any] | None:
    """The ``lineage`` member of a signed manifest (None: no parent, the member is left out)."""
    if link is None:
        return None
    return {"parent_cid": link.parent_cid, "relation": link.relation.value}


class LineageService:
    """Links between tracks and their parents; trees; most remixed."""

    def __init__(self, store: CurationStore, tracks: TrackRepository, events: EventLog, clock: Clock) -> None:
        self._store = store
        self._tracks = tracks
        self._events = events
        self._clock = clock

    async def resolve_parent(self, ref: str, viewer: Viewer) -> tuple[Cid, Track | None]:
        """The parent a member named: a track here (id, prefix or CID), or a CID from elsewhere."""
        track = await self._tracks.resolve(ref)
        if track is not None and can_see(track, viewer):
            return track.cid, track
        ref = ref.strip()
        if ref.startswith("b") and len(ref) >= 40:  # a CID of a track on another instance
            return Cid(ref), None
        raise NotFoundError(f"no track '{ref}' in the pool to name as the parent")

    async def link(
        self, child: Track, parent_cid: Cid, relation: Relation, origin: Origin = Origin.LOCAL, peer: str | None = None
    ) -> bool:
        """Record that ``child`` derives from ``parent_cid``; tells the parent's sharer. False if linked."""
        if parent_cid == child.cid:
            raise UsageError("a track cannot be its own parent")
        if await self._store.parent_of(child.id) is not None:
            return False
        now = self._clock.now()
        async with self._events.transaction():
            await self._store.add_link(LineageLink(child.id, child.cid, parent_cid, relation, now))
            await self._events.record(
                DomainEvent(EventKind.TRACK_REMIXED, track_id=child.id, origin=origin, peer=peer), now
            )
        return True

    async def link_from_manifest(self, child: Track, manifest: Mapping[str, Any]) -> bool:
        """Record the lineage a peer's signed manifest carries (its parent may be ours)."""
        raw = manifest.get("lineage")
        if not isinstance(raw, Mapping) or not isinstance(raw.get("parent_cid"), str):
            return False
        try:
            relation = Relation(str(raw.get("relation") or "remix"))
        except ValueError:
            relation = Relation.REMIX
        origin = manifest.get("origin")
        peer = str(origin.get("name")) if isinstance(origin, Mapping) and origin.get("name") else None
        return await self.link(child, Cid(str(raw["parent_cid"])), relation, Origin.PEER, peer)

    async def link_of(self, child: Track) -> LineageLink | None:
        """The track's parent link, or None."""
        return await self._store.parent_of(child.id)

    async def link_of_id(self, child_id: TrackId) -> LineageLink | None:
        """The parent link of a track known by id (it may not be fetched yet), or None."""
        return await self._store.parent_of(child_id)

    async def family(self, track: Track, viewer: Viewer) -> Family:
        """Parent, children and stems of a track (only what the viewer may see)."""
        parent = await self._store.parent_of(track.id)
        parent_track = await self._visible_by_cid(parent.parent_cid, viewer) if parent else None
        children = []
        stems = []
        for link in await self._store.children_of(track.cid):
            child = await self._tracks.get(link.child_id)
            if child is None or not can_see(child, viewer):
                continue
            children.append(link)
            if link.relation is Relation.STEMS:
                stems.append(child)
        return Family(parent, parent_track, tuple(children), tuple(stems))

    async def tree(self, track: Track, viewer: Viewer) -> list[Node]:
        """Ancestors (oldest first), the track, then descendants depth-first; bounded."""
        chain: list[tuple[Cid, Track | None, Relation | None]] = []  # the track, then its ancestors
        current_cid: Cid = track.cid
        current: Track | None = track
        seen = {track.cid}
        while len(chain) <= MAX_DEPTH:
            link = await self._store.parent_of(current.id) if current is not None else None
            chain.append((current_cid, current, link.relation if link else None))
            if link is None or link.parent_cid in seen:
                break
            seen.add(link.parent_cid)
            current_cid, current = link.parent_cid, await self._visible_by_cid(link.parent_cid, viewer)
        nodes = [Node(cid, t, rel, -depth) for depth, (cid, t, rel) in reversed(list(enumerate(chain)))]
        down: list[Node] = []
        stack = [(link, 1) for link in reversed(await self._store.children_of(track.cid))]
        while stack and len(down) < MAX_NODES:  # depth first, oldest child first
            child_link, level = stack.pop()
            if child_link.child_cid in seen:
                continue
            child = await self._tracks.get(child_link.child_id)
            if child is None or not can_see(child, viewer):
                continue
            seen.add(child_link.child_cid)
            down.append(Node(child_link.child_cid, child, child_link.relation, level))
            if level < MAX_DEPTH:
                stack.extend((k, level + 1) for k in reversed(await self._store.children_of(child_link.child_cid)))
        return nodes + down

    async def most_remixed(self, since: datetime, limit: int = 5) -> list[tuple[Track, int]]:
        """Public tracks here with the most children since a time (the digest's "most remixed")."""
        out = []
        for cid, count in await self._store.most_remixed(since, limit * 3):
            track = await self._visible_by_cid(cid, Viewer())
            if track is not None:
                out.append((track, count))
        return out[:limit]

    async def children_counts(self, tracks: Sequence[Track]) -> dict[Cid, int]:
        """How many children each track has (for cards)."""
        return {t.cid: len(await self._store.children_of(t.cid)) for t in tracks}

    async def _visible_by_cid(self, cid: Cid, viewer: Viewer) -> Track | None:
        for candidate in await self._tracks.find_by_cid(cid):
            if can_see(candidate, viewer):
                return candidate
        return None
