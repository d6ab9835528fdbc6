"""``CurationStore`` in dicts, over the in-memory track and voting repositories (unit tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from core.curation_ports import LineageLink, Member, Penalty, SignalKind, TrackFact, VoteFact, VoteRow
from core.model import Cid, TrackId, TrackStatus, Verdict
from core.visibility import is_public
from storage.memory import MemoryTrackRepository, MemoryVotingRepository

LIKES_PAGE = 1_000  # small pages: tests cross page boundaries with a few thousand votes


class MemoryCurationStore:
    """Reads the fakes' votes, shares and tracks; keeps boosts and lineage in dicts."""

    def __init__(self, tracks: MemoryTrackRepository, voting: MemoryVotingRepository) -> None:
        self._tracks = tracks
        self._voting = voting
        self._boosts: dict[TrackId, dict[Member, datetime]] = {}
        self._peer_boosts: dict[Cid, tuple[str, int, datetime]] = {}
        self._links: dict[TrackId, LineageLink] = {}
        self._plays: list[tuple[TrackId, datetime]] = []

    async def likes_since(self, after: datetime | None) -> Sequence[VoteFact]:
        """Votes and re-shares from ``after`` on, oldest first."""
        out = [
            VoteFact(track_id, (voter.platform, voter.user_id), at)
            for (track_id, voter), (value, at) in self._voting.track_vote_items()
            if value > 0 and (after is None or at >= after)
        ]
        for share in self._tracks.all_shares():
            track = await self._tracks.get(share.track_id)
            if track is None or (share.sharer.platform, share.sharer.user_id) == (
                track.sharer.platform,
                track.sharer.user_id,
            ):
                continue
            if after is None or share.shared_at >= after:
                out.append(
                    VoteFact(
                        share.track_id,
                        (share.sharer.platform, share.sharer.user_id),
                        share.shared_at,
                        SignalKind.RESHARE,
                    )
                )
        return sorted(out, key=lambda f: f.at)

    async def vote_pages(self) -> AsyncIterator[Sequence[VoteRow]]:
        """Every positive vote, oldest first, in pages of ``LIKES_PAGE``."""
        votes = sorted(
            (at, track_id, voter.platform, voter.user_id)
            for (track_id, voter), (value, at) in self._voting.track_vote_items()
            if value > 0
        )
        for start in range(0, len(votes), LIKES_PAGE):
            yield [(t, p, u, int(at.timestamp())) for at, t, p, u in votes[start : start + LIKES_PAGE]]

    async def reshares(self) -> Sequence[VoteFact]:
        """Every re-share, oldest first."""
        return [f for f in await self.likes_since(None) if f.kind is SignalKind.RESHARE]

    async def likes_of(self, member: Member) -> set[TrackId]:
        """Tracks the member voted on or shared."""
        voted = {t for (t, voter), _ in self._voting.track_vote_items() if (voter.platform, voter.user_id) == member}
        shared = {s.track_id for s in self._tracks.all_shares() if (s.sharer.platform, s.sharer.user_id) == member}
        return voted | shared

    async def track_facts_since(self, after: datetime | None) -> Sequence[TrackFact]:
        """Public tracks first seen from ``after`` on."""
        out = [
            TrackFact(
                t.id,
                (t.sharer.platform, t.sharer.user_id),
                t.genre,
                " ".join(x for x in (t.title, t.prompt, t.style) if x),
                t.first_seen_at,
            )
            for t in self._tracks.all_tracks()
            if is_public(t) and (after is None or t.first_seen_at >= after)
        ]
        return sorted(out, key=lambda f: f.at)

    async def track_fact_pages(self) -> AsyncIterator[Sequence[TrackFact]]:
        """Every public track, oldest first, in pages of ``LIKES_PAGE``."""
        facts = await self.track_facts_since(None)
        for start in range(0, len(facts), LIKES_PAGE):
            yield facts[start : start + LIKES_PAGE]

    async def penalties(self, member: Member) -> Sequence[Penalty]:
        """The member's rejected or taken-down tracks."""
        return [
            Penalty(t.id, t.title, t.status is TrackStatus.TAKEN_DOWN, t.first_seen_at)
            for t in self._tracks.all_tracks()
            if (t.sharer.platform, t.sharer.user_id) == member
            and (t.status is TrackStatus.TAKEN_DOWN or t.verdict is Verdict.REJECTED)
        ]

    async def add_boost(self, track_id: TrackId, member: Member, at: datetime) -> bool:
        """Record a boost once per member and track."""
        boosts = self._boosts.setdefault(track_id, {})
        if member in boosts:
            return False
        boosts[member] = at
        return True

    async def remove_boost(self, track_id: TrackId, member: Member) -> bool:
        """Withdraw a boost."""
        return self._boosts.get(track_id, {}).pop(member, None) is not None

    async def boosters(self, track_id: TrackId) -> Sequence[Member]:
        """Who boosted a track, earliest first."""
        boosts = self._boosts.get(track_id, {})
        return sorted(boosts, key=lambda m: boosts[m])

    async def boost_counts(self, track_ids: Sequence[TrackId]) -> dict[TrackId, int]:
        """Boosts per track."""
        return {t: len(self._boosts[t]) for t in track_ids if self._boosts.get(t)}

    async def set_peer_boosts(self, cid: Cid, origin: str, count: int, at: datetime) -> bool:
        """Keep the newest signed count from the track's origin."""
        known = self._peer_boosts.get(cid)
        if known is not None and (known[0] != origin or at <= known[2]):
            return False
        self._peer_boosts[cid] = (origin, count, at)
        return True

    async def peer_boosts(self, cid: Cid) -> int:
        """A peer's signed boost count of a track."""
        known = self._peer_boosts.get(cid)
        return known[1] if known else 0

    async def add_link(self, link: LineageLink) -> None:
        """Record a child's parent (the first stays)."""
        self._links.setdefault(link.child_id, link)

    async def parent_of(self, child_id: TrackId) -> LineageLink | None:
        """A child's link."""
        return self._links.get(child_id)

    async def children_of(self, parent_cid: Cid) -> Sequence[LineageLink]:
        """A parent's children, oldest first."""
        return sorted((k for k in self._links.values() if k.parent_cid == parent_cid), key=lambda k: k.at)

    async def most_remixed(self, since: datetime, limit: int) -> Sequence[tuple[Cid, int]]:
        """Parents with the most non-stem children linked since a time."""
        counts: dict[Cid, tuple[int, datetime]] = {}
        for link in self._links.values():
            if link.at >= since and link.relation.value != "stems":
                n, first = counts.get(link.parent_cid, (0, link.at))
                counts[link.parent_cid] = (n + 1, min(first, link.at))
        ranked = sorted(counts.items(), key=lambda item: (-item[1][0], item[1][1]))
        return [(cid, n) for cid, (n, _) in ranked[:limit]]

    async def add_play(self, track_id: TrackId, at: datetime) -> None:
        """Count a web play."""
        self._plays.append((track_id, at))

    async def plays_since(self, after: datetime | None) -> Sequence[tuple[TrackId, datetime]]:
        """Plays after ``after``, oldest first."""
        return sorted((p for p in self._plays if after is None or p[1] > after), key=lambda p: p[1])
