"""Builds a whole curation index at once: likes packed by counting sort, not one by one.

Grown one like at a time, the index's rows would be per-row lists until packed (tens of
bytes a like); a rebuild instead collects the likes as three flat columns (track, member,
when: 12 bytes a like) and lays them out by track and by member in two passes. Votes are one
fact per member and track (the votes table's key), so the columns need no de-duplication;
re-shares, which may repeat a vote, are few and are added one at a time afterwards.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from core.curation_index import CurationIndex
from core.curation_ports import TrackFact, VoteFact, VoteRow
from core.curation_rows import Rows
from core.model import TrackId


def _grouped(keys: array[int], groups: int) -> tuple[array[int], array[int]]:
    """Row offsets for ``keys`` grouped, and each input's place in the grouped order (stable)."""
    offsets = array("q", bytes(8 * (groups + 1)))
    for k in keys:
        offsets[k + 1] += 1
    total = 0
    for g in range(groups + 1):
        total += offsets[g]
        offsets[g] = total
    nxt = array("q", offsets)
    places = array("q", bytes(8 * len(keys)))
    for i, k in enumerate(keys):
        places[i] = nxt[k]
        nxt[k] += 1
    return offsets, places


def _placed(column: array[int], places: array[int]) -> array[int]:
    out = array(column.typecode, bytes(column.itemsize * len(column)))
    for value, place in zip(column, places, strict=True):
        out[place] = value
    return out


class IndexBuilder:
    """Feed it the track facts, then every vote (pages, oldest first) and the re-shares;
    ``finish`` packs them."""

    def __init__(self) -> None:
        self.index = CurationIndex()
        self._tracks = array("i")
        self._members = array("i")
        self._at = array("I")
        self._late: list[VoteFact] = []
        self._word_tracks = array("i")  # (track, word) of every track's words, as two columns
        self._words = array("i")
        self._last: datetime | None = None

    def add_tracks(self, facts: Iterable[TrackFact]) -> None:
        """Learn the public tracks (before the likes, so sharers are known)."""
        index, tracks, words = self.index, self._word_tracks, self._words
        for fact in facts:
            t = index.learn_track(fact)
            if t is not None:
                for w in index.word_numbers(fact.text):
                    tracks.append(t)
                    words.append(w)

    def add_votes(self, page: Sequence[VoteRow]) -> None:
        """Collect one page of votes (oldest first, one per member and track)."""
        track, member = self.index.track, self.index.member_number
        add_track, add_member, add_at = self._tracks.append, self._members.append, self._at.append
        for track_id, platform, user_id, when in page:
            add_track(track(track_id))
            add_member(member(platform, user_id))
            add_at(when if when > 0 else 0)
        if page:
            last = datetime.fromtimestamp(page[-1][3], UTC)
            self._last = last if self._last is None else max(self._last, last)

    def add_likes(self, facts: Iterable[VoteFact]) -> None:
        """Likes to add after the votes are packed (re-shares: few, and one may repeat a vote)."""
        self._late.extend(facts)

    def finish(self, plays: Iterable[tuple[TrackId, datetime]] = ()) -> CurationIndex:
        """The index, packed (the builder is spent)."""
        index = self.index
        index.pack()
        offsets, places = _grouped(self._word_tracks, index.track_count)
        words = Rows(offsets, _placed(self._words, places))
        offsets, places = _grouped(self._words, index.word_count)
        index.set_words(words, Rows(offsets, _placed(self._word_tracks, places)))
        self._word_tracks, self._words = array("i"), array("i")
        offsets, places = _grouped(self._tracks, index.track_count)
        likers = Rows(offsets, _placed(self._members, places))
        liked_at = Rows(offsets, _placed(self._at, places), code="I")
        del places
        self._at = array("I")
        offsets, places = _grouped(self._members, index.member_count)
        liked = Rows(offsets, _placed(self._tracks, places))
        count = len(self._tracks)
        self._tracks, self._members = array("i"), array("i")
        index.set_likes(likers, liked_at, liked, count, self._last)
        for fact in self._late:
            index.add_like(fact)
        self._late = []
        for track_id, when in plays:
            index.add_play(track_id, when)
        return index
