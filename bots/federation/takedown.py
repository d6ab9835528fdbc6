"""A takedown on Matrix: redact this instance's own events of the track and delete its media.

A takedown hides the track here and sends a tombstone to the peers, but the homeserver still
holds what this instance posted: the track event (the signed manifest) and ``have`` events
in the federation rooms, the card and the audio message in the chat rooms, and the audio
uploads themselves, downloadable by anyone who has their mxc URI. This module:

* reads back (boundedly) each room this account is in and redacts **its own** events that
  name the track: a track event whose manifest has the track's id or CID, a ``have`` of the
  CID, an audio message of one of the track's uploads, and a chat message whose text names
  the track's CID and no other track (a digest listing several tracks stays);
* deletes the track's media on this account's homeserver through Synapse's admin API
  (``DELETE /_synapse/admin/v1/media/{server}/{id}``). That needs a server admin account;
  without it the homeserver answers 403 and the report says the media stays downloadable
  (the operator can delete it, or make the account admin). Media on other homeservers
  (a peer's copy, the member's original upload on another server) cannot be deleted from here.

Tombstones are kept: they are what tells peers the track is gone.
"""

from __future__ import annotations

import hashlib
import logging
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bots.instance import Instance
from core.federation.event_types import HAVE_EVENT, TRACK_EVENT
from core.model import TrackId

log = logging.getLogger(__name__)

CID_PATTERN = re.compile(r"bafkrei[a-z2-7]{52}")
MAX_PAGES = 30  # of 100 events per room: a takedown reads back at most 3,000 events of each room


class MatrixCalls(Protocol):
    """What a takedown needs of the Matrix API client."""

    user_id: str

    async def request(self, method: str, path: str, body: Any = None, params: Any = None) -> Any:
        """One JSON call; raises on an error status (with ``status``)."""
        ...

    async def messages(self, room_id: str, start: str | None, direction: str = "b", limit: int = 100) -> dict[str, Any]:
        """One page of history."""
        ...


@dataclass
class TakedownReport:
    """What a takedown did on Matrix."""

    redacted: list[tuple[str, str]] = field(default_factory=list)  # (room, event id)
    media_deleted: list[str] = field(default_factory=list)
    media_kept: list[str] = field(default_factory=list)  # could not be deleted (not admin, foreign server)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the log (and the operator)."""
        parts = [f"{len(self.redacted)} event(s) redacted", f"{len(self.media_deleted)} upload(s) deleted"]
        if self.media_kept:
            parts.append(
                f"{len(self.media_kept)} upload(s) still downloadable ({'; '.join(self.problems) or 'see log'})"
            )
        return ", ".join(parts)


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _mxcs_of(event: Mapping[str, Any]) -> set[str]:
    """Media an event points at (audio url, manifest sources, a have's source)."""
    content = event.get("content")
    if not isinstance(content, Mapping):
        return set()
    found: set[str] = set()
    url = content.get("url")
    if isinstance(url, str) and url.startswith("mxc://"):
        found.add(url)
    manifest = content.get("manifest")
    sources = manifest.get("sources") if isinstance(manifest, Mapping) else None
    for source in sources if isinstance(sources, list) else []:
        if isinstance(source, Mapping) and isinstance(source.get("mxc"), str):
            found.add(source["mxc"])
    source = content.get("source")
    if isinstance(source, Mapping) and isinstance(source.get("mxc"), str):
        found.add(source["mxc"])
    return found


def names_track(event: Mapping[str, Any], track_id: str, cid: str, mxcs: set[str]) -> bool:
    """Whether one of our events is about this track (and only this track)."""
    content = event.get("content")
    if not isinstance(content, Mapping) or not content:
        return False  # already redacted
    kind = event.get("type")
    if kind == TRACK_EVENT:
        manifest = content.get("manifest")
        return isinstance(manifest, Mapping) and (manifest.get("track_id") == track_id or manifest.get("cid") == cid)
    if kind == HAVE_EVENT:
        return content.get("cid") == cid
    if kind != "m.room.message":
        return False
    if content.get("url") in mxcs:
        return True
    text = f"{content.get('body', '')}\n{content.get('formatted_body', '')}"
    named = set(CID_PATTERN.findall(text))
    return named == {cid}


async def redact(api: MatrixCalls, room_id: str, event_id: str, reason: str) -> None:
    """Redact one event (the transaction id is derived from the event: a retry is the same request)."""
    txn = "takedown-" + hashlib.sha256(event_id.encode()).hexdigest()[:24]
    await api.request(
        "PUT", f"/_matrix/client/v3/rooms/{_q(room_id)}/redact/{_q(event_id)}/{txn}", {"reason": reason[:200]}
    )


async def delete_media(api: MatrixCalls, mxc: str, report: TakedownReport) -> None:
    """Delete one upload through Synapse's admin API; a refusal is reported, not raised."""
    parsed = urllib.parse.urlparse(mxc)
    own_server = api.user_id.split(":", 1)[-1]
    if parsed.scheme != "mxc" or not parsed.netloc or not parsed.path.strip("/"):
        return
    if parsed.netloc != own_server:
        report.media_kept.append(mxc)
        report.problems.append(f"{mxc} is on another homeserver")
        return
    path = f"/_synapse/admin/v1/media/{_q(parsed.netloc)}/{_q(parsed.path.strip('/'))}"
    try:
        await api.request("DELETE", path)
    except Exception as error:
        status = getattr(error, "status", None)
        if status == 404:  # already gone
            report.media_deleted.append(mxc)
            return
        report.media_kept.append(mxc)
        why = (
            f"{api.user_id} is not a server admin of {own_server}, so its uploads stay downloadable"
            if status in (401, 403)
            else f"deleting {mxc} failed: {error}"
        )
        if why not in report.problems:
            report.problems.append(why)
        return
    report.media_deleted.append(mxc)


async def withdraw_track(
    api: MatrixCalls,
    rooms: Iterable[str],
    track_id: str,
    cid: str,
    reason: str,
    known_mxcs: Iterable[str] = (),
    max_pages: int = MAX_PAGES,
) -> TakedownReport:
    """Redact our events of the track in ``rooms``, then delete its media; what was done."""
    report = TakedownReport()
    mxcs = set(known_mxcs)
    for room_id in rooms:
        start: str | None = None
        for _ in range(max_pages):
            try:
                page = await api.messages(room_id, start, "b", 100)
            except Exception as error:
                report.problems.append(f"reading {room_id} failed: {error}")
                break
            chunk = page.get("chunk") or []
            for event in chunk:
                if not isinstance(event, Mapping) or event.get("sender") != api.user_id:
                    continue
                if names_track(event, track_id, cid, mxcs):
                    mxcs |= _mxcs_of(event)
                    await redact(api, room_id, str(event.get("event_id")), reason)
                    report.redacted.append((room_id, str(event.get("event_id"))))
            start = page.get("end")
            if not chunk or not start:
                break
    for mxc in sorted(mxcs):
        await delete_media(api, mxc, report)
    return report


async def withdraw_from_matrix(
    instance: Instance, api: MatrixCalls, rooms: Iterable[str], track_id: str, reason: str | None
) -> TakedownReport | None:
    """After a takedown here: withdraw the track's events and uploads; the outcome is logged."""
    track = await instance.app.tracks.get(TrackId(track_id))
    if track is None:
        return None
    known = await instance.state.get("matrix_media", track.cid)  # the chat bot's upload (or the member's)
    report = await withdraw_track(
        api, rooms, track.id, track.cid, f"taken down: {reason}" if reason else "taken down", [known] if known else []
    )
    if report.media_kept:
        log.warning("takedown of %s on Matrix: %s", track.id, report.summary())
    else:
        log.info("takedown of %s on Matrix: %s", track.id, report.summary())
    return report
