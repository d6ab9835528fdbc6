"""What the web round page shows of a cross-community round: its communities, every
community's entries (or "still arriving"), and after the results the combined ranking
with each community's votes. Entrants of an anonymous round stay anonymous until then.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.federated_round_model import CommunityPart, FederatedRound, Participation
from core.model import Track, TrackId
from core.ports import TrackRepository
from core.services.federated_rounds import FederatedRoundService
from core.visibility import is_public
from core.voting_model import Round


@dataclass(frozen=True)
class FederatedEntryView:
    """One entry: its public track (None while its audio is still arriving or when not public)."""

    title: str
    track: Track | None
    community: str
    entrant: str
    arrived: bool
    rank: int | None = None
    votes: float | None = None
    by_community: tuple[tuple[str, int], ...] = ()  # (community, voters) once the results are in


@dataclass(frozen=True)
class FederatedRoundView:
    """The federated part of ``/rounds/<id>``."""

    id: str
    organiser: str
    communities: tuple[str, ...]
    entries: tuple[FederatedEntryView, ...]
    results: bool
    tallies: tuple[CommunityPart, ...] = ()
    not_counted: tuple[tuple[str, str], ...] = ()
    cancelled: bool = False


async def federated_round_view(
    service: FederatedRoundService, tracks: TrackRepository, rnd: Round
) -> FederatedRoundView | None:
    """The federated view of a local round, or None when it runs for no federated round."""
    fed = await service.linked(rnd.id)
    if fed is None:
        return None
    participants = await service.participants(fed)
    results = fed.results_at is not None and fed.participation is not Participation.CANCELLED
    combined = await service.results(fed) if results else None
    standing_of = {s.cid: s for s in combined.standings} if combined is not None else {}
    views: list[FederatedEntryView] = []
    for entry in await service.entries(fed):
        track = await tracks.get(TrackId(entry.track_id))
        community = participants.get(entry.origin, entry.origin)
        public = track if track is not None and is_public(track) else None
        views.append(
            FederatedEntryView(
                title=public.title if public is not None else (entry.title or "an entry"),
                track=public,
                community=community,
                entrant=_entrant(fed, results, entry.submitter_name, public),
                arrived=track is not None,
                rank=standing_of[entry.cid].rank if entry.cid in standing_of else None,
                votes=standing_of[entry.cid].votes if entry.cid in standing_of else None,
                by_community=tuple(
                    sorted((name, voters) for name, voters, _total in standing_of[entry.cid].by_community)
                )
                if entry.cid in standing_of
                else (),
            )
        )
    if results:
        views.sort(key=lambda v: (v.rank if v.rank is not None else 1 << 30, v.title))
    return FederatedRoundView(
        id=fed.id,
        organiser=fed.organiser_name,
        communities=tuple(participants.values()),
        entries=tuple(views),
        results=results,
        tallies=combined.communities if combined is not None else (),
        not_counted=combined.not_counted if combined is not None else (),
        cancelled=fed.participation is Participation.CANCELLED,
    )


def _entrant(fed: FederatedRound, results: bool, name: str | None, track: Track | None) -> str:
    if fed.anonymous and not results:
        return "anonymous"
    if name:
        return name
    return track.sharer.display_name if track is not None and results else "anonymous"
