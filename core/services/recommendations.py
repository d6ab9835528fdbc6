"""``discover`` and ``similar``: the recommender over the curation index, behind the visibility rule.

The index may be 30 s old; what a member voted on or shared is read fresh from storage,
and every pick is loaded and checked with ``core.visibility.is_public`` before it is
shown, so nothing quarantined, rejected, taken down or already voted on is recommended.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.curation_index import CurationIndex
from core.curation_ports import CurationStore
from core.errors import NotFoundError
from core.model import Sharer, Track
from core.ports import TrackRepository
from core.recommend import Because, Pick, discover, similar
from core.services.curation_feed import CurationFeed
from core.services.reputation import member_of
from core.visibility import Viewer, can_see, is_public

LIMIT = 10


@dataclass(frozen=True)
class Recommendation:
    """A recommended track and the one line of why."""

    track: Track
    because: Because
    because_track: Track | None = None


class RecommendationService:
    """Recommendations for a member, and tracks like a track."""

    def __init__(self, feed: CurationFeed, store: CurationStore, tracks: TrackRepository) -> None:
        self._feed = feed
        self._store = store
        self._tracks = tracks

    async def discover(self, who: Sharer, limit: int = LIMIT) -> list[Recommendation]:
        """Up to ``limit`` public tracks the member has not voted on or shared."""
        index = await self._feed.index()
        key = member_of(who)
        seen = {ix for t in await self._store.likes_of(key) if (ix := index.find_track(t)) is not None}
        member = index.find_member(key)
        if member is not None:
            seen |= set(index.shared(member))
        # the index knows only public tracks when built, but one may have left since: check, then
        # ask for a few more than shown so a pick that fails the check is replaced
        picks = discover(index, member, lambda t: t not in seen, limit * 2)
        return await self._load(index, picks, limit, exclude_sharer=who)

    async def similar(self, ref: str, viewer: Viewer, limit: int = LIMIT) -> tuple[Track, list[Recommendation]]:
        """A track and the public tracks liked by the same people or near in prompt words."""
        source = await self._tracks.resolve(ref)
        if source is None or not can_see(source, viewer):
            raise NotFoundError(f"no track '{ref}' in the pool")
        index = await self._feed.index()
        ix = index.find_track(source.id)
        if ix is None:
            return source, []
        picks = similar(index, ix, lambda t: True, limit * 2)
        return source, await self._load(index, picks, limit)

    async def _load(
        self, index: CurationIndex, picks: list[Pick], limit: int, exclude_sharer: Sharer | None = None
    ) -> list[Recommendation]:
        out: list[Recommendation] = []
        for pick in picks:
            if len(out) >= limit:
                break
            track = await self._tracks.get(index.track_id(pick.track))
            if track is None or not is_public(track):
                continue
            if exclude_sharer is not None and member_of(track.sharer) == member_of(exclude_sharer):
                continue
            because = (
                await self._tracks.get(index.track_id(pick.because_track)) if pick.because_track is not None else None
            )
            out.append(Recommendation(track, pick.because, because if because and is_public(because) else None))
        return out
