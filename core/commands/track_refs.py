"""One way to name a track in every command: id, CID, a unique prefix of either, or its title.

``round submit``, ``prompt save --track``, ``track``, ``genre move`` and the moderation
commands all resolve through ``resolve_track``, so a reference that works in one works in
all, and an ambiguous one is answered with the tracks it could mean.
"""

from __future__ import annotations

from core.app import App
from core.commands.declaration import Invocation
from core.errors import NotFoundError, UsageError
from core.model import Track
from core.visibility import Viewer, can_see

MIN_PREFIX = 4  # among the member's own tracks; the pool-wide prefix needs 6 (the repository's rule)
OWN_TRACKS_SCANNED = 500
SHOWN = 5


def _label(track: Track) -> str:
    return f"{track.title} ({track.id[:8]})"


def _ambiguous(ref: str, hits: list[Track], whose: str) -> UsageError:
    names = ", ".join(_label(t) for t in hits[:SHOWN]) + (" …" if len(hits) > SHOWN else "")
    return UsageError(f"'{ref}' matches {len(hits)} of {whose}: {names}; give the id")


async def resolve_track(app: App, ref: str, inv: Invocation, viewer: Viewer, *, own: bool = False) -> Track:
    """The track ``ref`` names for this member; ``own`` limits titles and short prefixes to
    the member's own tracks. NotFoundError when none, UsageError (listing them) when several."""
    ref = str(ref).strip()
    if not ref:
        raise UsageError("name a track: its id, pool address or title")
    exact = await app.tracks.resolve(ref)
    if exact is not None and can_see(exact, viewer):
        return exact
    folded = ref.casefold()
    mine = list(await app.tracks.by_sharer(inv.platform, inv.user_id, limit=OWN_TRACKS_SCANNED))
    by_title = [t for t in mine if t.title.casefold() == folded]
    if len(by_title) == 1:
        return by_title[0]
    if len(by_title) > 1:
        raise _ambiguous(ref, by_title, "your tracks")
    if len(ref) >= MIN_PREFIX:
        by_prefix = [t for t in mine if t.id.startswith(ref) or t.cid.startswith(ref)]
        if len({t.cid for t in by_prefix}) == 1:
            return by_prefix[0]
        if by_prefix:
            raise _ambiguous(ref, by_prefix, "your tracks")
    if not own:
        titled = [t for t in await app.tracks.search(ref, limit=40) if t.title.casefold() == folded]
        visible = [t for t in titled if can_see(t, viewer)]
        if len(visible) == 1:
            return visible[0]
        if len(visible) > 1:
            raise _ambiguous(ref, visible, "the pool's tracks")
    where = "among your tracks" if own else "in the pool"
    raise NotFoundError(f"no track '{ref}' {where} (give its id, pool address or exact title)")
