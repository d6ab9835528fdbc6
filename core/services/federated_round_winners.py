"""The winners of a cross-community round, from the combined results (for the digest)."""

from __future__ import annotations

from core.model import TrackId
from core.ports import TrackRepository
from core.services.federated_rounds import FederatedRoundService
from core.voting_model import Round


class FederatedWinners:
    """``await winners(rnd)``: the federated leaders of a linked local round, or None when
    the round is not federated (the digest then uses the local standings)."""

    def __init__(self, service: FederatedRoundService, tracks: TrackRepository) -> None:
        self._service = service
        self._tracks = tracks

    async def __call__(self, rnd: Round) -> tuple[tuple[str, str], ...] | None:
        """(title, entrant) of every entry ranked first; () while the results are not in."""
        fed = await self._service.linked(rnd.id)
        if fed is None:
            return None
        if fed.results_at is None:
            return ()  # the local standings are only this community's votes: never call them the winners
        results = await self._service.results(fed)
        if not results.standings:
            return ()
        by_cid = {e.cid: e for e in await self._service.entries(fed)}
        communities = await self._service.participants(fed)
        top = results.standings[0].rank
        out: list[tuple[str, str]] = []
        for standing in (s for s in results.standings if s.rank == top):
            entry = by_cid.get(standing.cid)
            if entry is None:
                continue
            track = await self._tracks.get(TrackId(entry.track_id))
            community = communities.get(entry.origin, entry.origin)
            title = track.title if track is not None else f"an entry from {community}"
            who = entry.submitter_name or (track.sharer.display_name if track is not None else "anonymous")
            out.append((title, f"{who} ({community})"))
        return tuple(out)
