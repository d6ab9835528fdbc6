"""A takedown on a real Synapse: the instance redacts its own posts of the track and deletes its
upload when its account is a server admin; otherwise it says the upload stays downloadable."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.model import Declaration, Sharer
from tests.integration.test_matrix_bot import PARTS, Room, _ready
from tests.support.audio import make_mp3
from tests.support.homeserver import Homeserver
from tests.support.instances import running
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Homeserver]:
    server = Homeserver.start(tmp_path_factory.mktemp("synapse-takedown"), max_upload="5M")
    yield server
    server.stop()


def _downloadable(hs: Homeserver, token: str, mxc: str) -> bool:
    server, media_id = mxc.removeprefix("mxc://").split("/", 1)
    request = urllib.request.Request(f"{hs.url}/_matrix/client/v1/media/download/{server}/{media_id}")
    request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return bool(response.read())
    except urllib.error.HTTPError as error:
        assert error.code == 404, error
        return False


@pytest.mark.parametrize("admin", [True, False], ids=["admin-account", "plain-account"])
async def test_a_takedown_redacts_the_instances_posts_and_deletes_its_upload(
    synapse: Homeserver, tmp_path: Path, admin: bool, caplog: pytest.LogCaptureFixture
) -> None:
    room = Room(synapse, tmp_path)
    if admin:
        _, root = synapse.register(f"root{id(room)}", admin=True)
        synapse.call("PUT", f"/_synapse/admin/v2/users/{room.bot}", root, body={"admin": True})
    caplog.set_level(logging.INFO, logger="bots.federation.takedown")
    async with running(room.config, PARTS) as run:
        await _ready(room, run)
        path = make_mp3(tmp_path / "gone.mp3", 3, 11)
        outcome = await run.instance.app.share.share_file(
            path, Sharer("matrix", room.alice, "Alice"), Declaration(title="Soon gone"), "cli"
        )
        track = outcome.track
        audio: list[dict[str, Any]] = []

        async def posted() -> bool:  # the announcement: its card, then the audio the bot uploaded
            audio[:] = [m for m in room.bot_messages() if m["content"].get("msgtype") == "m.audio"]
            return bool(audio)

        await eventually(posted, 60, "the track's card and audio in the room")
        mxc = audio[0]["content"]["url"]
        assert _downloadable(synapse, room.alice_token, mxc)
        cards = [m for m in room.bot_messages() if track.cid in m["content"].get("body", "")]
        assert cards
        other = room.say(room.alice_token, "a member's own words stay")

        await room.reply_to(room.say(room.mod_token, f"!wp takedown {track.id} a claim"))

        def our_posts_left() -> list[str]:
            return [
                m["event_id"]
                for m in room.bot_messages()
                if track.cid in m["content"].get("body", "") or m["content"].get("url") == mxc
            ]

        async def redacted() -> bool:
            return not our_posts_left()

        await eventually(redacted, 60, "the bot's posts of the track to be redacted")
        assert other in [e["event_id"] for e in synapse.messages(room.mod_token, room.room, 200) if e["content"]]
        if admin:

            async def deleted() -> bool:
                return not _downloadable(synapse, room.alice_token, mxc)

            await eventually(deleted, 30, "the upload to be deleted")
        else:

            async def said_so() -> bool:
                return any("not a server admin" in r.getMessage() for r in caplog.records)

            await eventually(said_so, 30, "the log to say the upload stays")
            assert _downloadable(synapse, room.alice_token, mxc)
