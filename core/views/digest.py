"""The weekly digest as members read it."""

from __future__ import annotations

from core.replies import Reply
from core.services.digest import Digest
from core.views.tracks import vote_buttons


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def digest_reply(digest: Digest) -> Reply:
    """The digest: counts, most voted, round winners (ties shown as ties), prompts, peers."""
    lines = [f"{_plural(len(digest.new_tracks), 'new track')} this week from {_plural(digest.sharers, 'member')}."]
    if digest.top:
        lines.append("Most voted:")
        for place, (track, votes) in enumerate(digest.top, start=1):
            boosts = digest.boosted.get(track.id, 0)  # issue 17
            boosted = f", boosted by {_plural(boosts, 'curator')}" if boosts else ""
            lines.append(f"{place}. {track.title} — {track.sharer.display_name} ({_plural(votes, 'vote')}{boosted})")
    elif digest.new_tracks:
        lines.append("Newest:")
        lines += [f"• {t.title} — {t.sharer.display_name}" for t in digest.new_tracks[: digest.top_n]]
    for win in digest.rounds:
        names = " and ".join(f"{title} — {who}" for title, who in win.winners)
        lines.append(f"Round {win.round.label} {'tied between' if len(win.winners) > 1 else 'won by'} {names}")
    if digest.prompts:
        lines.append("Top prompts:")
        lines += [f"• {text[:200]}" for text in digest.prompts]
    if digest.most_remixed:  # issue 17
        lines.append("Most remixed:")
        lines += [
            f"• {t.title} — {t.sharer.display_name} ({n} remix{'' if n == 1 else 'es'})" for t, n in digest.most_remixed
        ]
    if digest.peers:
        lines.append("Highlights from peers:")
        lines += [f"• {name}: {', '.join(titles)}" for name, titles in digest.peers]
    cards = [t for t, _ in digest.top]  # every listed track with its card and vote button; the ranking once
    return Reply(
        title=digest.title,
        text="\n".join(lines),
        cards=tuple(cards),
        buttons=tuple(button for t in cards for button in vote_buttons(t)),
        data=digest.to_data(),
    )
