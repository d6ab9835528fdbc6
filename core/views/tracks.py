"""Tracks as members read them: the card with its vote button, and a share's answer."""

from __future__ import annotations

from core.model import Track
from core.replies import Button, Reply, VoteChoice
from core.services.sharing import ShareOutcome, ShareStatus


def vote_buttons(track: Track) -> tuple[Button, ...]:
    """The buttons under a track card."""
    return (Button.vote("👍", VoteChoice.track(track.id)),)


def card_reply(track: Track, text: str = "", private: bool = False) -> Reply:
    """A reply showing one track card with its vote button."""
    return Reply(
        text=text,
        cards=(track,),
        buttons=vote_buttons(track),
        private=private,
        data={"track": track.id, "cid": track.cid, "verdict": track.verdict.value},
    )


def share_reply(outcome: ShareOutcome) -> Reply:
    """What the member who shared reads."""
    track = outcome.track
    if outcome.status is ShareStatus.KNOWN_HIDDEN:
        return Reply(text="This track is already in the pool, waiting for a moderator's review.")
    if outcome.status is ShareStatus.KNOWN:
        return card_reply(track, text=outcome.detail)
    if outcome.status is ShareStatus.ADDED:
        return card_reply(track, text=f"Added to the pool: {track.title} ({track.verdict.value})")
    if outcome.status is ShareStatus.REFUSED:
        return card_reply(track, text=f"Not added: {outcome.detail}")
    return card_reply(track, text=f"Received {track.title}; it waits for a moderator's review ({outcome.detail})")
