"""Genre classification and routing; digest schedule."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from core.errors import UsageError
from core.services.digest import DigestSchedule
from core.services.genres import GenreDef, GenreService


class Places:
    def __init__(self) -> None:
        self.data: dict[tuple[str, str], str] = {}

    async def get_all(self):
        return dict(self.data)

    async def put(self, genre, platform, place):
        if place is None:
            self.data.pop((genre, platform), None)
        else:
            self.data[(genre, platform)] = place


TAXONOMY = [
    GenreDef("synthwave", ("outrun", "retrowave"), ("80s", "neon"), {"discord": "111"}),
    GenreDef("lofi", ("lo-fi", "chillhop"), ("chill", "study")),
]


def service() -> GenreService:
    return GenreService(
        TAXONOMY, Places(), {"discord": "999", "matrix": "!default:hs"}, {"round": {"matrix": "!rounds:hs"}}
    )


def test_classification_order() -> None:
    genres = service()
    assert genres.classify(chosen="Outrun", prompt="chill study beats") == "synthwave"
    assert genres.classify(prompt="chill study beats with neon") == "lofi"
    assert genres.classify(style="dreamy retrowave, 80s") == "synthwave"
    assert genres.classify(tags=("Lo-Fi",)) == "lofi"
    assert genres.classify(prompt="opera") is None
    with pytest.raises(UsageError, match="genres: lofi, synthwave"):
        genres.classify(chosen="polka")


async def test_routing_with_runtime_override() -> None:
    genres = service()
    assert await genres.destination("genre:synthwave", "discord") == "111"
    assert await genres.destination("genre:lofi", "discord") == "999"
    assert await genres.destination("genre:lofi", "matrix") == "!default:hs"
    await genres.set_place("chillhop", "matrix", "!lofi:hs")
    assert await genres.destination("genre:lofi", "matrix") == "!lofi:hs"
    assert await genres.destination("round:4", "matrix") == "!rounds:hs"
    assert await genres.destination("digest", "discord") == "999"


def test_digest_schedule_in_timezone() -> None:
    schedule = DigestSchedule("mon", time(18, 0), "Europe/Berlin")
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday
    due = schedule.latest_due(now)
    assert due == datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    assert schedule.next_due(now) == datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    just_before = datetime(2026, 11, 30, 16, 59, tzinfo=UTC)
    assert schedule.latest_due(just_before) == due
