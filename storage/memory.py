"""In-memory implementations of the core's ports, for fast unit tests and as executable specs.

The contract tests run the same assertions against these and against SQLite, so the
fakes cannot drift from the real thing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from core.cid import cid_of
from core.errors import IntegrityError, TooLargeError
from core.fingerprint import bucket_keys
from core.model import (
    Cid,
    Evidence,
    Fingerprint,
    Share,
    Sharer,
    Track,
    TrackId,
    TrackStatus,
    Verdict,
)
from core.ports import VerifyReport
from core.voting_model import Ballot, Entry, Phase, Round, RoundRules, Voter


class MemoryTrackRepository:
    """``TrackRepository`` in dicts."""

    def __init__(self) -> None:
        self._tracks: dict[TrackId, Track] = {}
        self._shares: list[Share] = []
        self._fingerprints: dict[TrackId, Fingerprint] = {}

    async def add(self, track: Track, share: Share | None = None, fingerprint: Fingerprint | None = None) -> None:
        if track.id in self._tracks:
            raise ValueError(f"track {track.id} exists")
        self._tracks[track.id] = track
        if share is not None:
            self._shares.append(share)
        if fingerprint is not None:
            self._fingerprints[track.id] = fingerprint

    async def add_many(self, tracks: Sequence[Track]) -> None:
        ids = [t.id for t in tracks]
        if len(set(ids)) != len(ids) or any(i in self._tracks for i in ids):
            raise ValueError("a track exists")
        self._tracks.update((t.id, t) for t in tracks)

    async def get(self, track_id: TrackId) -> Track | None:
        return self._tracks.get(track_id)

    async def get_many(self, track_ids: Sequence[TrackId]) -> dict[TrackId, Track]:
        return {t: self._tracks[t] for t in track_ids if t in self._tracks}

    async def find_by_cid(self, cid: Cid) -> Sequence[Track]:
        return sorted((t for t in self._tracks.values() if t.cid == cid), key=lambda t: t.first_seen_at)

    async def resolve(self, ref: str) -> Track | None:
        ref = ref.strip()
        if not ref:
            return None
        ordered = sorted(self._tracks.values(), key=lambda t: t.first_seen_at)
        for track in ordered:
            if ref in (track.id, track.cid):
                return track
        if len(ref) < 6:
            return None
        hits = [t for t in ordered if t.id.startswith(ref) or t.cid.startswith(ref)]
        return hits[0] if hits and len({t.cid for t in hits}) == 1 else None

    async def search(self, text: str, limit: int = 10) -> Sequence[Track]:
        words = [w for w in text.lower().split() if w]
        if not words:
            return []

        def haystack(t: Track) -> str:
            return " ".join(
                filter(None, (t.title, t.artist, t.prompt, t.style, " ".join(t.tags), t.genre, t.sharer.display_name))
            ).lower()

        hits = [
            t
            for t in self._tracks.values()
            if t.status is TrackStatus.ACTIVE
            and all(any(tok.startswith(w) for tok in haystack(t).split()) for w in words)
        ]
        return hits[:limit]

    async def recent(self, limit: int = 20, since: datetime | None = None) -> Sequence[Track]:
        active = [
            t
            for t in self._tracks.values()
            if t.status is TrackStatus.ACTIVE and (since is None or t.first_seen_at >= since)
        ]
        return sorted(active, key=lambda t: t.first_seen_at, reverse=True)[:limit]

    async def by_verdict(self, verdict: Verdict, limit: int = 50) -> Sequence[Track]:
        hits = [t for t in self._tracks.values() if t.verdict is verdict and t.status is TrackStatus.ACTIVE]
        return sorted(hits, key=lambda t: t.first_seen_at)[:limit]

    async def by_sharer(self, platform: str, user_id: str, limit: int = 50) -> Sequence[Track]:
        hits = [
            t
            for t in self._tracks.values()
            if (t.sharer.platform, t.sharer.user_id) == (platform, user_id) and t.status is TrackStatus.ACTIVE
        ]
        return sorted(hits, key=lambda t: t.first_seen_at, reverse=True)[:limit]

    async def set_verdict(
        self, track_id: TrackId, verdict: Verdict, reason: str, evidence: Sequence[Evidence] | None = None
    ) -> None:
        track = self._tracks[track_id]
        self._tracks[track_id] = replace(
            track,
            verdict=verdict,
            verdict_reason=reason,
            evidence=track.evidence if evidence is None else tuple(evidence),
        )

    async def set_status(self, track_id: TrackId, status: TrackStatus) -> None:
        self._tracks[track_id] = replace(self._tracks[track_id], status=status)

    async def set_genre(self, track_id: TrackId, genre: str | None) -> None:
        self._tracks[track_id] = replace(self._tracks[track_id], genre=genre)

    async def add_share(self, share: Share) -> None:
        self._shares.append(share)

    async def shares_since(self, platform: str, user_id: str, since: datetime) -> int:
        return sum(
            1
            for s in self._shares
            if (s.sharer.platform, s.sharer.user_id) == (platform, user_id) and s.shared_at >= since
        )

    async def shares(self, track_id: TrackId) -> Sequence[Share]:
        return sorted((s for s in self._shares if s.track_id == track_id), key=lambda s: s.shared_at)

    async def add_fingerprint(self, track_id: TrackId, fingerprint: Fingerprint) -> None:
        self._fingerprints[track_id] = fingerprint

    async def fingerprint_candidates(
        self, fingerprint: Fingerprint, limit: int = 20
    ) -> Sequence[tuple[TrackId, Fingerprint]]:
        keys = set(bucket_keys(fingerprint.values))
        scored = [(len(keys & set(bucket_keys(fp.values))), tid, fp) for tid, fp in self._fingerprints.items()]
        scored = [s for s in scored if s[0] > 0]
        scored.sort(key=lambda s: -s[0])
        return [(tid, fp) for _, tid, fp in scored[:limit]]

    async def fingerprint(self, track_id: TrackId) -> Fingerprint | None:
        return self._fingerprints.get(track_id)

    async def referenced_cids(self) -> set[Cid]:
        return {t.cid for t in self._tracks.values() if t.status is TrackStatus.ACTIVE}

    async def count(self) -> int:
        return len(self._tracks)

    def all_tracks(self) -> list[Track]:
        """Every track (for other in-memory fakes that read tracks, e.g. curation's)."""
        return list(self._tracks.values())

    def all_shares(self) -> list[Share]:
        """Every share, in the order recorded."""
        return list(self._shares)


class MemoryVotingRepository:
    """``VotingRepository`` in dicts."""

    def __init__(self) -> None:
        self._rounds: dict[int, Round] = {}
        self._entries: dict[int, list[Entry]] = {}
        self._ballots: dict[tuple[int, int, Voter], Ballot] = {}
        self._track_votes: dict[tuple[TrackId, Voter], tuple[int, datetime]] = {}

    async def create_round(
        self,
        rules: RoundRules,
        created_by: Sharer,
        created_at: datetime,
        submit_until: datetime,
        vote_until: datetime,
        place: str,
    ) -> Round:
        rnd = Round(
            len(self._rounds) + 1, rules, created_by, created_at, submit_until, vote_until, Phase.SUBMISSION, place
        )
        self._rounds[rnd.id] = rnd
        self._entries[rnd.id] = []
        return rnd

    async def get_round(self, round_id: int) -> Round | None:
        return self._rounds.get(round_id)

    async def open_rounds(self) -> Sequence[Round]:
        return [r for r in self._rounds.values() if r.phase is not Phase.CLOSED]

    async def recent_rounds(self, limit: int = 10) -> Sequence[Round]:
        return sorted(self._rounds.values(), key=lambda r: -r.id)[:limit]

    async def set_phase(self, round_id: int, phase: Phase, expected: Phase) -> bool:
        rnd = self._rounds[round_id]
        if rnd.phase is not expected:
            return False
        self._rounds[round_id] = replace(rnd, phase=phase)
        return True

    async def set_deadlines(self, round_id: int, submit_until: datetime, vote_until: datetime) -> None:
        self._rounds[round_id] = replace(self._rounds[round_id], submit_until=submit_until, vote_until=vote_until)

    async def add_entry(self, round_id: int, track_id: TrackId, submitter: Sharer, at: datetime) -> Entry:
        entry = Entry(round_id, len(self._entries[round_id]) + 1, track_id, submitter, at)
        self._entries[round_id].append(entry)
        return entry

    async def entries(self, round_id: int) -> Sequence[Entry]:
        return list(self._entries.get(round_id, []))

    async def first_entries(self, round_id: int, limit: int) -> tuple[Sequence[Entry], int]:
        entries = self._entries.get(round_id, [])
        return list(entries[:limit]), len(entries)

    async def set_ballot(self, ballot: Ballot) -> int | None:
        key = (ballot.round_id, ballot.entry, ballot.voter)
        previous = self._ballots.get(key)
        self._ballots[key] = ballot
        return previous.value if previous else None

    async def delete_ballot(self, round_id: int, entry: int, voter: Voter) -> int | None:
        previous = self._ballots.pop((round_id, entry, voter), None)
        return previous.value if previous else None

    async def ballots(self, round_id: int) -> Sequence[Ballot]:
        return [b for b in self._ballots.values() if b.round_id == round_id]

    async def voter_count(self, round_id: int) -> int:
        return len({b.voter for b in self._ballots.values() if b.round_id == round_id})

    async def entry(self, round_id: int, number: int) -> Entry | None:
        return next((e for e in self._entries.get(round_id, []) if e.number == number), None)

    async def ballots_of(self, round_id: int, voter: Voter) -> dict[int, int]:
        return {b.entry: b.value for b in self._ballots.values() if b.round_id == round_id and b.voter == voter}

    async def get_track_vote(self, track_id: TrackId, voter: Voter) -> int | None:
        found = self._track_votes.get((track_id, voter))
        return found[0] if found else None

    async def set_track_vote(self, track_id: TrackId, voter: Voter, value: int, at: datetime) -> int | None:
        previous = await self.get_track_vote(track_id, voter)
        self._track_votes[(track_id, voter)] = (value, at)
        return previous

    async def delete_track_vote(self, track_id: TrackId, voter: Voter) -> int | None:
        found = self._track_votes.pop((track_id, voter), None)
        return found[0] if found else None

    async def track_vote_totals(self, since: datetime, limit: int) -> Sequence[tuple[TrackId, int, int]]:
        totals: dict[TrackId, list[int]] = {}
        first: dict[TrackId, datetime] = {}
        for (track_id, _voter), (value, at) in self._track_votes.items():
            if at >= since:
                totals.setdefault(track_id, []).append(value)
                first[track_id] = min(first.get(track_id, at), at)
        ranked = sorted(totals.items(), key=lambda item: (-sum(item[1]), first[item[0]]))
        return [(tid, sum(values), len(values)) for tid, values in ranked[:limit]]

    async def track_votes(self, track_ids: Sequence[TrackId]) -> dict[TrackId, int]:
        out: dict[TrackId, int] = {}
        for (track_id, _voter), (value, _at) in self._track_votes.items():
            if track_id in track_ids:
                out[track_id] = out.get(track_id, 0) + value
        return out

    def track_vote_items(self) -> list[tuple[tuple[TrackId, Voter], tuple[int, datetime]]]:
        """Every track vote: ((track, voter), (value, when)) (for curation's in-memory fake)."""
        return list(self._track_votes.items())


class MemoryKeyValue:
    """``BotState`` / digest ``KeyValue`` in a dict."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], str] = {}

    async def get(self, namespace: str, key: str) -> str | None:
        return self._data.get((namespace, key))

    async def put(self, namespace: str, key: str, value: str) -> None:
        self._data[(namespace, key)] = value

    async def delete(self, namespace: str, key: str) -> None:
        self._data.pop((namespace, key), None)


class MemoryBlobPool:
    """``BlobPool`` in a dict, verified like the disk pool (tests corrupt it on purpose)."""

    def __init__(self) -> None:
        self.blobs: dict[Cid, bytes] = {}
        self.corrupt: list[Cid] = []

    async def put_file(self, path: Path, max_size: int | None = None) -> tuple[Cid, int]:
        return await self._put(path.read_bytes(), max_size, None)

    async def put_stream(
        self,
        chunks: AsyncIterator[bytes],
        max_size: int | None = None,
        expect: Cid | None = None,
        sync_name: bool = True,
    ) -> tuple[Cid, int]:
        data = bytearray()
        async for chunk in chunks:
            data += chunk
            if max_size is not None and len(data) > max_size:
                raise TooLargeError(f"the file is larger than this instance accepts ({max_size / 1e6:.0f} MB)")
        return await self._put(bytes(data), max_size, expect)

    async def sync_names(self) -> None:
        return None

    async def _put(self, data: bytes, max_size: int | None, expect: Cid | None) -> tuple[Cid, int]:
        if max_size is not None and len(data) > max_size:
            raise TooLargeError(f"the file is larger than this instance accepts ({max_size / 1e6:.0f} MB)")
        cid = cid_of(data)
        if expect is not None and cid != expect:
            raise IntegrityError(f"received bytes hash to {cid}, not the announced {expect}")
        self.blobs.setdefault(cid, data)
        return cid, len(data)

    async def has(self, cid: Cid) -> bool:
        return cid in self.blobs

    async def read(self, cid: Cid) -> bytes:
        data = self.blobs[cid]
        if cid_of(data) != cid:
            self._quarantine(cid)
            raise IntegrityError(f"blob {cid} is corrupt; it was moved aside")
        return data

    async def stream(self, cid: Cid, chunk_size: int = 262144) -> AsyncIterator[bytes]:
        data = await self.read(cid)
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]

    async def local_path(self, cid: Cid) -> Path | None:
        return None  # nothing on disk; callers that need a file skip the blob

    async def delete(self, cid: Cid) -> bool:
        return self.blobs.pop(cid, None) is not None

    async def cids(self) -> AsyncIterator[Cid]:
        for cid in sorted(self.blobs):
            yield cid

    async def size_of(self, cid: Cid) -> int | None:
        data = self.blobs.get(cid)
        return None if data is None else len(data)

    async def total_bytes(self) -> int:
        return sum(len(d) for d in self.blobs.values())

    def _quarantine(self, cid: Cid) -> None:
        self.blobs.pop(cid, None)
        self.corrupt.append(cid)

    async def verify(self) -> VerifyReport:
        checked = ok = total = 0
        bad: list[Cid] = []
        for cid, data in sorted(self.blobs.items()):
            checked += 1
            total += len(data)
            if cid_of(data) == cid:
                ok += 1
            else:
                bad.append(cid)
        for cid in bad:
            self._quarantine(cid)
        return VerifyReport(checked=checked, ok=ok, corrupt=tuple(bad), bytes_checked=total)

    async def clean_temp(self) -> int:
        return 0
