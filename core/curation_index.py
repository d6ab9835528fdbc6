"""Who liked what, in memory: the one index reputation and recommendations read.

Members and tracks are interned as small integers so a community of a million votes
fits in a few hundred megabytes of dicts and a query walks lists, not strings. The
index only grows by ``add_like``/``add_track``; withdrawn votes leave it when its owner
rebuilds it (``core.services.curation_refresh`` does so every few minutes), so a
recommendation is at most that stale, never wrong about what a member has voted on
(the services ask storage for that).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from core.curation_ports import Member, TrackFact, VoteFact
from core.model import TrackId

_WORD = re.compile(r"[^\W_]{3,}", re.UNICODE)
# A web play is anonymous and cheap (one listener may play a track many times from many
# addresses), so five count as one vote.
PLAY_WEIGHT = 0.2
_STOP = frozenset("the and with for from that this into your are was but not you all feat ft music song track".split())


def words_of(text: str) -> frozenset[str]:
    """Lower-case words of three letters or more, without the commonest ones."""
    return frozenset(w for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOP)


@dataclass
class CurationIndex:
    """Likes by track and by member (in order), track facts, and sharer-to-sharer counts."""

    track_ids: list[TrackId] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    _track_ix: dict[TrackId, int] = field(default_factory=dict)
    _member_ix: dict[Member, int] = field(default_factory=dict)
    likers: list[dict[int, float]] = field(default_factory=list)  # track -> {member: when (epoch s)}
    liked: list[list[int]] = field(default_factory=list)  # member -> tracks in the order liked
    liked_set: list[set[int]] = field(default_factory=list)
    shared: list[list[int]] = field(default_factory=list)  # member -> tracks they shared first
    sharer: list[int] = field(default_factory=list)  # track -> its sharer (-1: unknown)
    genre: list[str | None] = field(default_factory=list)
    words: list[frozenset[str]] = field(default_factory=list)
    first_seen: list[float] = field(default_factory=list)
    by_word: dict[str, list[int]] = field(default_factory=dict)
    by_genre: dict[str, list[int]] = field(default_factory=dict)
    pair: dict[tuple[int, int], int] = field(default_factory=dict)  # (voter, sharer) -> votes
    like_count: int = 0
    last_like_at: datetime | None = None
    _popular: list[int] = field(default_factory=list)
    _popular_at_count: int = -1
    last_track_at: datetime | None = None
    plays: list[int] = field(default_factory=list)  # track -> web plays (anonymous: counts only)
    last_play_at: datetime | None = None

    # -- interning ---------------------------------------------------------------------

    def track(self, track_id: TrackId) -> int:
        """The index of a track, adding an unknown one."""
        found = self._track_ix.get(track_id)
        if found is not None:
            return found
        ix = len(self.track_ids)
        self._track_ix[track_id] = ix
        self.track_ids.append(track_id)
        self.likers.append({})
        self.sharer.append(-1)
        self.genre.append(None)
        self.words.append(frozenset())
        self.first_seen.append(0.0)
        self.plays.append(0)
        return ix

    def member(self, member: Member) -> int:
        """The index of a member, adding an unknown one."""
        found = self._member_ix.get(member)
        if found is not None:
            return found
        ix = len(self.members)
        self._member_ix[member] = ix
        self.members.append(member)
        self.liked.append([])
        self.liked_set.append(set())
        self.shared.append([])
        return ix

    def find_track(self, track_id: TrackId) -> int | None:
        """The index of a known track, or None."""
        return self._track_ix.get(track_id)

    def find_member(self, member: Member) -> int | None:
        """The index of a known member, or None."""
        return self._member_ix.get(member)

    # -- growing -----------------------------------------------------------------------

    def add_track(self, fact: TrackFact) -> None:
        """Learn a track's sharer, genre and words (once)."""
        t = self.track(fact.track_id)
        if self.sharer[t] != -1:
            return
        s = self.member(fact.sharer)
        self.sharer[t] = s
        self.shared[s].append(t)
        self.genre[t] = fact.genre
        self.words[t] = words_of(fact.text)
        self.first_seen[t] = fact.at.timestamp()
        for word in self.words[t]:
            self.by_word.setdefault(word, []).append(t)
        if fact.genre:
            self.by_genre.setdefault(fact.genre, []).append(t)
        # votes that arrived before the track's facts count towards the pair now
        for voter in self.likers[t]:
            self.pair[(voter, s)] = self.pair.get((voter, s), 0) + 1
        if self.last_track_at is None or fact.at > self.last_track_at:
            self.last_track_at = fact.at

    def add_like(self, fact: VoteFact) -> None:
        """Learn that a member liked a track (a second like of the same pair is ignored)."""
        t = self.track(fact.track_id)
        m = self.member(fact.member)
        if m in self.likers[t]:
            return
        self.likers[t][m] = fact.at.timestamp()
        self.liked[m].append(t)
        self.liked_set[m].add(t)
        self.like_count += 1
        s = self.sharer[t]
        if s != -1:
            self.pair[(m, s)] = self.pair.get((m, s), 0) + 1
        if self.last_like_at is None or fact.at > self.last_like_at:
            self.last_like_at = fact.at

    def add_play(self, track_id: TrackId, at: datetime) -> None:
        """Learn of one web play of a track."""
        self.plays[self.track(track_id)] += 1
        if self.last_play_at is None or at > self.last_play_at:
            self.last_play_at = at

    def extend(
        self,
        tracks: Iterable[TrackFact],
        likes: Iterable[VoteFact],
        plays: Iterable[tuple[TrackId, datetime]] = (),
    ) -> None:
        """Learn many facts (tracks first, so pairs count at once)."""
        for track in tracks:
            self.add_track(track)
        for like in likes:
            self.add_like(like)
        for track_id, at in plays:
            self.add_play(track_id, at)

    def interest(self, track: int) -> float:
        """Likes plus web plays at ``PLAY_WEIGHT`` each: what "popular" ranks by."""
        return len(self.likers[track]) + PLAY_WEIGHT * self.plays[track]

    def popular(self) -> list[int]:
        """Tracks by likes, most first (re-sorted once the likes grew by 1 %, not per query)."""
        if self.like_count - self._popular_at_count > max(50, self.like_count // 100) or not self._popular:
            self._popular = sorted(range(len(self.track_ids)), key=lambda t: -self.interest(t))
            self._popular_at_count = self.like_count
        return self._popular
