"""The Discord gateway drops mid-interaction (the fake closes the socket with 4000): the real
discord.py client resumes, or identifies again when the session is gone; every vote sent around
the drop is answered once and counted once, and the bot keeps serving without a restart."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from core.model import Share, Sharer
from core.voting_model import RoundRules
from tests.integration.test_discord_wire import bot
from tests.support.discord_fake import APP_ID, DiscordFake
from tests.support.discord_harness import serving_fake
from tests.support.factories import make_track
from tests.support.instances import eventually


async def _vote(fake: DiscordFake, voter: str, entry: int) -> str:
    """Send a ``/round vote`` as ``voter``; the interaction's token."""
    options = [{"name": "round", "type": 3, "value": "1"}, {"name": "entry", "type": 4, "value": entry}]
    payload = fake.interaction("round vote", options, user=voter, channel="rounds")
    await fake.dispatch("INTERACTION_CREATE", payload)
    return str(payload["token"])


def _answers(fake: DiscordFake, token: str) -> int:
    return len(fake.sent("POST", f"/webhooks/{APP_ID}/{token}"))


async def test_votes_around_a_dropped_gateway_are_answered_and_counted_once(tmp_path: Path) -> None:
    async with serving_fake() as fake, bot(fake, tmp_path) as run:
        voting = run.instance.app.voting
        assert voting is not None
        mod = Sharer("discord", "1", "mod")
        rnd = await voting.start(RoundRules(theme="Drops"), mod, "x", timedelta(hours=1), timedelta(hours=1))
        for name in ("bob", "carol"):
            user = fake.user(name)
            who = Sharer("discord", user["id"], name)
            track = make_track(who, f"by {name}")
            await run.instance.app.tracks.add(track, Share(track.id, who, track.first_seen_at, "test"))
            await voting.submit(str(rnd.id), track.id, who)
        await voting.close_phase(str(rnd.id), mod)
        assert fake.identifies == 1

        tokens = {}
        tokens["v1"] = await _vote(fake, "v1", 1)
        await fake.drop_gateway(resumable=True)  # right behind the interaction

        async def resumed() -> bool:
            return fake.resumes == 1

        await eventually(resumed, 60, "the client to resume")
        tokens["v2"] = await _vote(fake, "v2", 2)
        tokens["v3"] = await _vote(fake, "v3", 1)
        await fake.drop_gateway(resumable=False)  # the session is gone this time

        async def identified_again() -> bool:
            return fake.identifies == 2

        await eventually(identified_again, 60, "the client to identify again")
        tokens["v4"] = await _vote(fake, "v4", 2)

        async def all_answered() -> bool:
            return all(_answers(fake, t) >= 1 for t in tokens.values())

        await eventually(all_answered, 60, "an answer to every vote")
        assert {name: _answers(fake, t) for name, t in tokens.items()} == dict.fromkeys(tokens, 1)
        ballots = await voting.ballots(await voting.get(str(rnd.id)))
        voters = {fake.user(name)["id"]: name for name in tokens}
        assert sorted((voters[b.voter.user_id], b.entry) for b in ballots) == [
            ("v1", 1),
            ("v2", 2),
            ("v3", 1),
            ("v4", 2),
        ]
