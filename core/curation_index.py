"""Who liked what, in memory: the one index reputation and recommendations read.

Members and tracks are numbered 0, 1, 2 … so a query walks arrays of ints, not strings.
Every like is held twice, packed (``core.curation_rows``): by track (who liked it, and
when, in order) and by member (what they liked, in order), 12 bytes a like; 2,000,000
likes take ~25 MB where per-track dicts and per-member sets took ~2 GB. ``IndexBuilder``
packs a whole index at once (a rebuild); ``add_like``/``add_track`` grow it between two
rebuilds. Withdrawn votes leave it when its owner rebuilds it
(``core.services.curation_feed`` does so every few minutes), so a recommendation is at most
that stale, never wrong about what a member has voted on (the services ask storage for that).
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterable
from datetime import datetime

from core.curation_ports import Member, TrackFact, VoteFact
from core.curation_rows import Interned, Rows
from core.model import TrackId

_WORD = re.compile(r"[^\W_]{3,}", re.UNICODE)
# A web play is anonymous and cheap (one listener may play a track many times from many
# addresses), so five count as one vote.
PLAY_WEIGHT = 0.2
_STOP = frozenset("the and with for from that this into your are was but not you all feat ft music song track".split())
_SEP = "\x1f"  # between a member's platform and user id in its interned key
# Sharer-to-sharer vote counts are counted from a voter's likes when asked and kept for this
# many voters (a reputation query asks for a few hundred; the cache is dropped when full).
PAIR_CACHE = 50_000


def words_of(text: str) -> frozenset[str]:
    """Lower-case words of three letters or more, without the commonest ones."""
    return frozenset(w for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOP)


def member_key(member: Member) -> str:
    """The interned form of a member."""
    return f"{member[0]}{_SEP}{member[1]}"


class CurationIndex:
    """Likes by track and by member (in order), track facts, and sharer-to-sharer counts."""

    def __init__(self) -> None:
        self._tracks = Interned()
        self._members = Interned()
        self._likers = Rows()  # track -> members, in the order they liked it
        self._liked_at = Rows(code="I")  # track -> when (epoch s), beside ``_likers``
        self._liked = Rows()  # member -> tracks, in the order liked
        self._shared = Rows()  # member -> tracks they shared first
        self._words = Rows()  # track -> word numbers
        self._by_word = Rows()  # word number -> tracks
        self._by_genre = Rows()  # genre number -> tracks
        self._sharer = array("i")  # track -> its sharer (-1: unknown)
        self._genre = array("h")  # track -> genre number (-1: none)
        self._first_seen = array("d")
        self._plays = array("i")  # track -> web plays (anonymous: counts only)
        self._vocabulary = Interned()  # prompt words
        self._genres = Interned()
        self._pairs: dict[int, dict[int, int]] = {}
        self.like_count = 0
        self.last_like_at: datetime | None = None
        self.last_track_at: datetime | None = None
        self.last_play_at: datetime | None = None
        self._popular: array[int] = array("i")
        self._popular_at_count = -1

    # -- numbering ---------------------------------------------------------------------

    @property
    def track_count(self) -> int:
        """How many tracks the index numbers."""
        return len(self._tracks)

    @property
    def member_count(self) -> int:
        """How many members the index numbers."""
        return len(self._members)

    @property
    def word_count(self) -> int:
        """How many distinct prompt words the index numbers."""
        return len(self._vocabulary)

    def track(self, track_id: TrackId) -> int:
        """The number of a track, adding an unknown one."""
        t, new = self._tracks.add(track_id)
        if new:
            self._sharer.append(-1)
            self._genre.append(-1)
            self._first_seen.append(0.0)
            self._plays.append(0)
        return t

    def member(self, member: Member) -> int:
        """The number of a member, adding an unknown one."""
        return self._members.add(member_key(member))[0]

    def member_number(self, platform: str, user_id: str) -> int:
        """``member((platform, user_id))`` without making the tuple (a rebuild asks millions of times)."""
        return self._members.number(f"{platform}{_SEP}{user_id}")

    def find_track(self, track_id: TrackId) -> int | None:
        """The number of a known track, or None."""
        return self._tracks.find(track_id)

    def find_member(self, member: Member) -> int | None:
        """The number of a known member, or None."""
        return self._members.find(member_key(member))

    def track_id(self, track: int) -> TrackId:
        """The id of track number ``track``."""
        return TrackId(self._tracks.key(track))

    def member_of(self, member: int) -> Member:
        """The member numbered ``member``."""
        platform, _, user_id = self._members.key(member).partition(_SEP)
        return platform, user_id

    # -- reading -----------------------------------------------------------------------

    def likers(self, track: int, last: int | None = None) -> array[int]:
        """Who liked a track, in the order they did (the ``last`` ones only, when given)."""
        return self._likers.row(track, last)

    def like_times(self, track: int) -> array[int]:
        """When each of ``likers(track)`` liked it (epoch s), in the same order."""
        return self._liked_at.row(track)

    def like_count_of(self, track: int) -> int:
        """How many members liked a track."""
        return self._likers.size(track)

    def liked_at(self, track: int, member: int) -> int | None:
        """When a member liked a track (epoch s), or None."""
        position = self._likers.position(track, member)
        return None if position < 0 else self._liked_at.at(track, position)

    def liked(self, member: int, last: int | None = None) -> array[int]:
        """What a member liked, in order (the ``last`` ones only, when given)."""
        return self._liked.row(member, last)

    def liked_count(self, member: int) -> int:
        """How many tracks a member liked."""
        return self._liked.size(member)

    def shared(self, member: int) -> array[int]:
        """The tracks a member shared first, in order."""
        return self._shared.row(member)

    def sharer(self, track: int) -> int:
        """Who shared a track first (-1: not known)."""
        return self._sharer[track]

    def genre(self, track: int) -> str | None:
        """A track's genre."""
        g = self._genre[track]
        return self._genres.key(g) if g >= 0 else None

    def words(self, track: int) -> frozenset[int]:
        """A track's prompt words, as word numbers."""
        return frozenset(self._words.row(track))

    def tracks_with_word(self, word: int, last: int | None = None) -> array[int]:
        """The tracks whose prompt has a word, in the order learnt (the ``last`` ones, when given)."""
        return self._by_word.row(word, last)

    def word_frequency(self, word: int) -> int:
        """How many tracks have a word."""
        return self._by_word.size(word)

    def tracks_in_genre(self, genre: str, last: int | None = None) -> array[int]:
        """The tracks of a genre, in the order learnt."""
        g = self._genres.find(genre)
        return self._by_genre.row(g, last) if g is not None else array("i")

    def first_seen(self, track: int) -> float:
        """When a track was first shared (epoch s; 0 when not known)."""
        return self._first_seen[track]

    def plays(self, track: int) -> int:
        """Web plays of a track."""
        return self._plays[track]

    def pair(self, voter: int, sharer: int) -> int:
        """How many of ``sharer``'s tracks ``voter`` liked."""
        counts = self._pairs.get(voter)
        if counts is None:
            if len(self._pairs) >= PAIR_CACHE:
                self._pairs.clear()
            counts = {}
            sharers = self._sharer
            for t in self._liked.row(voter):
                s = sharers[t]
                if s != -1:
                    counts[s] = counts.get(s, 0) + 1
            self._pairs[voter] = counts
        return counts.get(sharer, 0)

    def interest(self, track: int) -> float:
        """Likes plus web plays at ``PLAY_WEIGHT`` each: what "popular" ranks by."""
        return self._likers.size(track) + PLAY_WEIGHT * self._plays[track]

    def popular(self) -> array[int]:
        """Tracks by likes, most first (re-sorted once the likes grew by 1 %, not per query)."""
        if self.like_count - self._popular_at_count > max(50, self.like_count // 100) or not self._popular:
            self._popular = array("i", sorted(range(self.track_count), key=lambda t: -self.interest(t)))
            self._popular_at_count = self.like_count
        return self._popular

    # -- growing -----------------------------------------------------------------------

    def add_track(self, fact: TrackFact) -> None:
        """Learn a track's sharer, genre and words (once)."""
        t = self.learn_track(fact)
        if t is not None:
            for w in self.word_numbers(fact.text):
                self._words.append(t, w)
                self._by_word.append(w, t)

    def word_numbers(self, text: str) -> list[int]:
        """The numbers of a text's words (numbering new ones)."""
        number = self._vocabulary.number
        return [number(word) for word in sorted(words_of(text))]

    def learn_track(self, fact: TrackFact) -> int | None:
        """Learn a track's sharer, genre and age, not its words; its number, None if it was known."""
        t = self.track(fact.track_id)
        if self._sharer[t] != -1:
            return None
        s = self.member(fact.sharer)
        self._sharer[t] = s
        self._shared.append(s, t)
        if fact.genre:
            g = self._genres.add(fact.genre)[0]
            self._genre[t] = g
            self._by_genre.append(g, t)
        self._first_seen[t] = fact.at.timestamp()
        if self._likers.size(t):  # votes that arrived before the track's facts count towards pairs now
            self._pairs.clear()
        if self.last_track_at is None or fact.at > self.last_track_at:
            self.last_track_at = fact.at
        return t

    def add_like(self, fact: VoteFact) -> None:
        """Learn that a member liked a track (a second like of the same pair is ignored)."""
        t = self.track(fact.track_id)
        m = self.member(fact.member)
        if self._likers.position(t, m) >= 0:
            return
        self._likers.append(t, m)
        self._liked_at.append(t, max(0, int(fact.at.timestamp())))
        self._liked.append(m, t)
        self._pairs.pop(m, None)
        self.like_count += 1
        if self.last_like_at is None or fact.at > self.last_like_at:
            self.last_like_at = fact.at

    def add_play(self, track_id: TrackId, at: datetime) -> None:
        """Learn of one web play of a track."""
        self._plays[self.track(track_id)] += 1
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

    def pack(self) -> None:
        """Pack what was learnt one fact at a time (the track facts of a build) into arrays."""
        for keys in (self._tracks, self._members, self._vocabulary, self._genres):
            keys.pack()
        self._shared = self._shared.packed_copy(self.member_count)
        self._by_genre = self._by_genre.packed_copy(len(self._genres))

    def set_words(self, words: Rows, by_word: Rows) -> None:
        """Take the packed words an ``IndexBuilder`` made (the index held none)."""
        self._words, self._by_word = words, by_word

    def set_likes(self, likers: Rows, liked_at: Rows, liked: Rows, count: int, last: datetime | None) -> None:
        """Take the packed likes an ``IndexBuilder`` made (the index held none)."""
        self._likers, self._liked_at, self._liked = likers, liked_at, liked
        self.like_count = count
        self.last_like_at = last
        self._pairs.clear()
