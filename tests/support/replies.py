"""Hypothesis strategies for member text in any script and replies of any size, and checks on plans."""

from __future__ import annotations

from dataclasses import dataclass, replace

from hypothesis import strategies as st

from core.commands.declaration import Button, ButtonAction, Reply
from core.model import Evidence, QualityReport, Strength, Track
from core.views.tracks import vote_buttons
from tests.support.factories import make_track, member

FRAGMENTS = (
    "Night drive",
    "synthwave",
    "lo-fi beats to study to",
    "Ünïcödé façade",
    "夜のドライブ",
    "音楽と光の物語",
    "서울의 밤",
    "霓虹灯下的城市",
    "🎵",
    "👍🏽",
    "👨‍👩‍👧‍👦",
    "🏳️‍🌈",
    "❤️‍🔥",
    "🇯🇵",
    "موسيقى الليل",
    "שיר ערש",
    "\u202eevil\u202c",
    "\u200f",
    "e\u0301\u0308\u0327",
    "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇",
    "ก่้้้้้้้้้้้้้",
    "<b>bold</b>",
    "</p></ul><script>alert(1)</script>",
    "&lt;&amp;&#x27;",
    "&",
    "<",
    ">",
    '"',
    "'",
    "@room",
    "@everyone",
    "@here",
    "<@123456789012345678>",
    "<@&987654321098765432>",
    "<#111>",
    "**bold** __under__ ~~strike~~ `code` ||spoiler||",
    "[link](https://example.com)",
    "\\",
    "\t",
)


@st.composite
def member_text(draw: st.DrawFn, max_repeat: int = 60, allow_empty: bool = False) -> str:
    """Text a member could type: fragments of many scripts, markup and mentions, any length."""
    parts = draw(
        st.lists(
            st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), min_size=0 if allow_empty else 1, max_size=12
        )
    )
    separator = draw(st.sampled_from([" ", "", "\n", " · "]))
    text = separator.join(parts)
    repeat = draw(st.sampled_from([1, 1, 1, 2, 5, max_repeat]))
    text = (text + " ") * repeat if repeat > 1 else text
    return text if allow_empty or text.strip() else text + "x"


@dataclass(frozen=True)
class Community:
    """A week's tracks, made from a few texts cycled over many tracks (cheap to generate)."""

    tracks: tuple[Track, ...]


@st.composite
def communities(draw: st.DrawFn, most: int = 500) -> Community:
    """1 to ``most`` tracks with hostile titles, prompts, names and genres."""
    count = draw(st.integers(1, most))
    titles = draw(st.lists(member_text(), min_size=1, max_size=4))
    prompts = draw(st.lists(st.one_of(st.none(), member_text()), min_size=1, max_size=3))
    names = draw(st.lists(member_text(max_repeat=5), min_size=1, max_size=3))
    genres = draw(
        st.lists(st.sampled_from(["synthwave", "lo-fi", "ambient", "j-pop", "drill", None]), min_size=1, max_size=6)
    )
    tracks = tuple(
        make_track(
            member(f"m{i % 40}", "discord"),
            title=f"{titles[i % len(titles)]} #{i}",
            genre=genres[i % len(genres)],
            prompt=prompts[i % len(prompts)],
        )
        for i in range(count)
    )
    details = draw(st.lists(member_text(max_repeat=20), min_size=0, max_size=3))
    evidence = tuple(
        Evidence("tags", "generator:suno", strength, detail, {"raw": {"nested": detail[:50]}})
        for detail, strength in zip(details, (Strength.STRONG, Strength.AGAINST, Strength.INFO), strict=False)
    )
    generator = draw(st.one_of(st.none(), member_text(max_repeat=5)))
    tracks = tuple(
        replace(
            t,
            sharer=replace(t.sharer, display_name=names[i % len(names)].strip() or "x"),
            evidence=evidence,
            generator=generator,
            style=prompts[(i + 1) % len(prompts)],
            quality=QualityReport(-14.2, -1.0, 0.5, 0.01),
        )
        for i, t in enumerate(tracks)
    )
    return Community(tracks)


def digest_reply(tracks: tuple[Track, ...], theme: str = "", listed: int | None = None) -> Reply:
    """A digest-shaped reply: summary lines, one row, card and vote button per listed track."""
    shown = tracks[: listed or len(tracks)]
    lines = [f"{len(tracks)} new tracks this week. {theme}".strip(), "Most voted:"]
    lines += [f"{n}. {t.title} — {t.sharer.display_name} ({n} votes)" for n, t in enumerate(shown, 1)]
    return Reply(
        title=f"Weekly digest — {theme}"[:300] if theme else "Weekly digest",
        text="\n".join(lines),
        cards=shown,
        fields=tuple((f"{n}. {t.title}"[:256], f"{t.sharer.display_name} · {n} votes") for n, t in enumerate(shown, 1)),
        buttons=tuple(b for t in shown for b in vote_buttons(t)),
    )


def results_reply(tracks: tuple[Track, ...], theme: str) -> Reply:
    """A round-results-shaped reply: a standing per entry, the top three's cards."""
    lines = [f"{n}. {t.title} — {t.sharer.display_name} (avg 3.{n % 10} from {n})" for n, t in enumerate(tracks, 1)]
    return Reply(
        title=f"Results: round #7 — {theme}",
        text="\n".join(lines) or "No entries.",
        cards=tracks[:3],
        fields=tuple((f"{n}. {t.title}"[:256], f"{t.sharer.display_name} · {n}") for n, t in enumerate(tracks, 1)),
    )


def entry_reply(track: Track, number: int) -> Reply:
    """A round entry: one card with five score buttons."""
    base = f"round:7:{number}"
    return Reply(
        title=f"Round #7 — entry {number}",
        text=f"Entry {number} by {track.sharer.display_name}",
        cards=(track,),
        buttons=tuple(Button(str(v), ButtonAction.VOTE, f"{base}:{v}") for v in range(1, 6)),
    )
