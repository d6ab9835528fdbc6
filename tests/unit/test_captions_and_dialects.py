"""What a share's caption declares, and times and hints written per platform."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.commands.captions import caption_fields, first_link
from core.replies import Dialect, command_hint, localize_text, moment, relative

NOW = datetime(2026, 11, 29, 9, 54, 0, tzinfo=UTC)


def test_a_caption_gives_title_genre_and_prompt() -> None:
    assert caption_fields("Neon rain #synthwave") == {"title": "Neon rain", "genre": "synthwave"}
    assert caption_fields("Night swim\nlisten: https://x.test/a.mp3") == {"title": "Night swim"}
    assert caption_fields("title: A\nprompt: dreamy pads\n#lofi") == {
        "title": "A",
        "prompt": "dreamy pads",
        "genre": "lofi",
    }
    assert caption_fields("> <@bob:hs> quoted\nmine") == {"title": "mine"}  # a client's reply fallback
    assert caption_fields("") == {}
    assert first_link("see https://suno.com/song/abc. nice") == "https://suno.com/song/abc"
    assert first_link("no link") is None


def test_deadlines_read_relative_and_to_the_second() -> None:
    deadline = NOW + timedelta(minutes=4, seconds=35)
    matrix = localize_text(f"Vote until {moment(deadline)}.", Dialect("!wp ", now=NOW))
    assert matrix == "Vote until in 4 min (09:58:35 UTC)."
    later = localize_text(moment(NOW + timedelta(days=3)), Dialect("!wp ", now=NOW))
    assert later == "in 3 days (2026-12-02 09:54:00 UTC)"
    stamp = int(deadline.timestamp())
    assert localize_text(moment(deadline), Dialect("/", discord_timestamps=True)) == f"<t:{stamp}:f> (<t:{stamp}:R>)"
    assert relative(NOW - timedelta(hours=3), NOW) == "3 h ago"


def test_hints_use_each_platforms_command_syntax() -> None:
    hint = f"try `{command_hint('help')}`"
    assert localize_text(hint, Dialect("!wp ")) == "try `!wp help`"
    assert localize_text(hint, Dialect("/")) == "try `/help`"
    assert localize_text(hint, Dialect("wavepool cmd ")) == "try `wavepool cmd help`"
