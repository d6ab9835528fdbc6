"""Recommendations from everyone's likes: collaborative filtering, with a cold start.

``discover`` is neighbourhood collaborative filtering: the members who liked the same
tracks as you (each shared like weighted ``1/√n``, ``n`` the track's likers, so liking
the same hit says less than liking the same rarity; divided by ``√`` of the neighbour's
own likes) are your 40 nearest neighbours, and a track scores the summed weight of the
neighbours who liked it. The "because you liked X" line names, of the neighbours who
liked the pick, the strongest one's rarest like in common with the member. An item-item sum over every liked
track walked ~360,000 likes a query (0.5 s, bench/recommend.py); this walks ~8,000.
Each step is bounded (your 60 latest likes, each track's 40 latest likers, each
neighbour's 150 latest likes), so a query costs the same at a million votes as at a
thousand. Members with no likes yet (and any room left in the list) get the most liked
tracks of the genres they share and like, then of the whole pool (web plays count a
fifth of a vote there, and nudge the other scores up a little). ``similar`` is
item-item: the cosine of two tracks' liker sets plus the overlap of their prompt words
(which is all a new track has).
"""

from __future__ import annotations

import enum
import heapq
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from core.curation_index import CurationIndex

MY_LIKES = 60
LIKERS_PER_TRACK = 40
LIKES_PER_LIKER = 150
NEIGHBOURS = 40
WORDS_WEIGHT = 0.5  # how much sharing prompt words counts against sharing likers
RAREST_WORDS = 6
TRACKS_PER_WORD = 400
# Web plays nudge a liked-by-neighbours score up by at most a few tens of per cent (100 plays:
# ×1.46), so they order picks of equal support but never outweigh a neighbour's vote by much.
PLAY_NUDGE = 0.1


class Because(enum.StrEnum):
    """Why a track is recommended."""

    LIKED = "liked"  # people who liked a track you liked liked this
    WORDS = "words"  # its prompt shares words with the track
    GENRE = "genre"  # popular in a genre you share
    POPULAR = "popular"  # popular in the pool


@dataclass(frozen=True)
class Pick:
    """A recommended track (index position), its score, and why."""

    track: int
    score: float
    because: Because
    because_track: int | None = None  # the liked track behind a LIKED pick


Allowed = Callable[[int], bool]


def _co_liked(index: CurationIndex, source: int, skip_member: int) -> dict[int, float]:
    """Cosine of ``source``'s likers with every track its recent likers liked."""
    n_source = index.like_count_of(source)
    if n_source == 0:
        return {}
    co: dict[int, int] = {}
    for member in index.likers(source, LIKERS_PER_TRACK):
        if member == skip_member:
            continue
        for other in index.liked(member, LIKES_PER_LIKER):
            co[other] = co.get(other, 0) + 1
    count = index.like_count_of
    return {t: c / math.sqrt(n_source * count(t)) for t, c in co.items() if t != source}


def _nudged(index: CurationIndex, scores: dict[int, float]) -> dict[int, float]:
    """Scores raised a little for tracks played on the web (``1 + PLAY_NUDGE · ln(1 + plays)``)."""
    plays = index.plays
    return {t: score * (1.0 + PLAY_NUDGE * math.log1p(plays(t))) if plays(t) else score for t, score in scores.items()}


def _best_first(scores: dict[int, float], head: int) -> Iterator[tuple[int, float]]:
    """Items by score, best first: the top ``head`` by a heap, the rest sorted only if asked for
    (when ``allowed`` refused most of the head)."""
    top = heapq.nlargest(head, scores.items(), key=lambda item: item[1])
    yield from top
    if len(top) == head:
        yield from sorted(scores.items(), key=lambda item: -item[1])[head:]


def _neighbours(index: CurationIndex, member: int, mine: Sequence[int]) -> list[tuple[int, float, int]]:
    """Members who liked what ``member`` liked, weighted by ``Σ 1/√n_i`` over shared likes;
    with each, the shared like that weighed most (the rarest): (member, weight, track)."""
    weight: dict[int, float] = {}
    strongest: dict[int, tuple[float, int]] = {}
    for source in mine:
        share = 1.0 / math.sqrt(index.like_count_of(source) or 1)
        for other in index.likers(source, LIKERS_PER_TRACK):
            if other != member:
                weight[other] = weight.get(other, 0.0) + share
                if share > strongest.get(other, (0.0, -1))[0]:
                    strongest[other] = (share, source)
    count = index.liked_count
    scored = heapq.nlargest(
        NEIGHBOURS, ((w / math.sqrt(count(m) or 1), m) for m, w in weight.items()), key=lambda item: item[0]
    )
    return [(m, w, strongest[m][1]) for w, m in scored]


def discover(index: CurationIndex, member: int | None, allowed: Allowed, limit: int = 10) -> list[Pick]:
    """Up to ``limit`` tracks for a member: ``allowed`` must say no to what they liked or may not see.

    "Because": the pick's strongest neighbour's rarest like in common with the member."""
    scores: dict[int, float] = {}
    best: dict[int, tuple[float, int]] = {}
    if member is not None:
        mine = index.liked(member, MY_LIKES)
        skip = set(index.liked(member))
        for other, weight, source in _neighbours(index, member, mine):
            for t in index.liked(other, LIKES_PER_LIKER):
                if t in skip:
                    continue
                scores[t] = scores.get(t, 0.0) + weight
                if weight > best.get(t, (0.0, -1))[0]:
                    best[t] = (weight, source)
    picks: list[Pick] = []
    taken: set[int] = set()
    for t, score in _best_first(_nudged(index, scores), limit * 4):
        if len(picks) >= limit:
            break
        if allowed(t):
            picks.append(Pick(t, score, Because.LIKED, best[t][1]))
            taken.add(t)
    if len(picks) < limit:
        picks.extend(_cold_start(index, member, allowed, limit - len(picks), taken))
    return picks


def _cold_start(index: CurationIndex, member: int | None, allowed: Allowed, room: int, taken: set[int]) -> list[Pick]:
    """The most liked tracks of the member's genres (those they share and like), then of the pool."""
    out: list[Pick] = []
    genres: dict[str, int] = {}
    if member is not None:
        for t in [*index.shared(member)[-20:], *index.liked(member, MY_LIKES)]:
            g = index.genre(t)
            if g:
                genres[g] = genres.get(g, 0) + 1
    for genre in sorted(genres, key=lambda g: -genres[g]):
        ranked = sorted(index.tracks_in_genre(genre, 2000), key=lambda t: -index.interest(t))
        for t in ranked:
            if len(out) >= room:
                return out
            if t not in taken and allowed(t):
                out.append(Pick(t, index.interest(t), Because.GENRE))
                taken.add(t)
    for t in index.popular():
        if len(out) >= room:
            break
        if t not in taken and allowed(t):
            out.append(Pick(t, index.interest(t), Because.POPULAR))
            taken.add(t)
    return out


def _word_neighbours(index: CurationIndex, source: int) -> dict[int, float]:
    """Jaccard overlap of prompt words with tracks sharing one of the source's rarer words."""
    words = index.words(source)
    if not words:
        return {}
    rare = sorted(words, key=index.word_frequency)[:RAREST_WORDS]
    out: dict[int, float] = {}
    for word in rare:
        for t in index.tracks_with_word(word, TRACKS_PER_WORD):
            if t != source and t not in out:
                other = index.words(t)
                out[t] = len(words & other) / len(words | other)
    return out


def similar(index: CurationIndex, source: int, allowed: Allowed, limit: int = 10) -> list[Pick]:
    """Tracks liked by the same people and near in prompt words, best first."""
    liked = _co_liked(index, source, -1)
    worded = _word_neighbours(index, source)
    scores = dict(liked)
    for t, words in worded.items():
        scores[t] = scores.get(t, 0.0) + WORDS_WEIGHT * words
    out: list[Pick] = []
    for t, score in _best_first(_nudged(index, scores), limit * 4):
        if len(out) >= limit or score <= 0:
            break
        if allowed(t):
            cf = liked.get(t, 0.0)
            because = Because.LIKED if cf >= WORDS_WEIGHT * worded.get(t, 0.0) else Because.WORDS
            out.append(Pick(t, score, because, source))
    return out
