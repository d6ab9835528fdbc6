"""A big community's week in a running instance, built with the core services (no audio needed)."""

from __future__ import annotations

from datetime import timedelta

from core.app import App
from core.model import Share, Sharer, Track
from core.voting_model import BallotType, Round, RoundRules
from tests.support.factories import make_track

GENRES = (
    "synthwave",
    "lo-fi",
    "ambient",
    "drill",
    "j-pop",
    "techno",
    "jazz",
    "metal",
    "folk",
    "house",
    "trance",
    "soul",
)
LONG_TITLE = "夜のドライブ — <b>neon</b> & @everyone 🎵 " * 12  # ~300 characters, CJK, markup, a mention


def sharer(platform: str, name: str) -> Sharer:
    """A member of the platform; Discord ids are the fake's snowflakes when given."""
    user_id = f"@{name}:localhost" if platform == "matrix" else name
    return Sharer(platform, user_id, f"{name.capitalize()} 🎧 {LONG_TITLE[:40]}")


async def seed_tracks(app: App, members: list[Sharer], count: int) -> list[Track]:
    """``count`` tracks with long CJK titles in 12 genres, shared by ``members`` in turn."""
    tracks = []
    now = app.clock.now()
    for index in range(count):
        who = members[index % len(members)]
        track = make_track(
            who,
            title=f"{LONG_TITLE}#{index}",
            genre=GENRES[index % len(GENRES)],
            when=now - timedelta(hours=1),
            prompt="dreamy synths, " * 30,
        )
        await app.tracks.add(track, Share(track.id, who, track.first_seen_at, "test"))
        tracks.append(track)
    return tracks


async def seed_week(app: App, members: list[Sharer], voter: Sharer, count: int = 120) -> list[Track]:
    """A week of ``count`` tracks, each voted once so the digest lists them all."""
    assert app.voting is not None
    tracks = await seed_tracks(app, members, count)
    for track in tracks:
        await app.voting.vote_track(track.id, voter, 1)
    return tracks


async def seed_round(app: App, members: list[Sharer], moderator: Sharer, place: str, entries: int = 25) -> Round:
    """A score round with one entry from each of ``entries`` members, moved to its voting phase."""
    assert app.voting is not None
    tracks = await seed_tracks(app, members, entries)
    rnd = await app.voting.start(
        RoundRules(theme=LONG_TITLE, ballot=BallotType.SCORE), moderator, place, timedelta(hours=1), timedelta(hours=1)
    )
    for track in tracks:
        await app.voting.submit(rnd.id, track.id, track.sharer)
    return await app.voting.close_phase(rnd.id, moderator)
