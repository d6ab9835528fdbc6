"""The cross-community round commands on an opened instance (real SQLite, no platform)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bots.instance import Instance
from bots.runtime import open_instance
from config import load_settings
from core.commands.declaration import Invocation, Permission, Reply
from core.commands.dispatch import execute
from core.commands.parsing import parse_chat
from core.voting_model import RoundRules
from tests.support.factories import member
from tests.support.instances import write_config


async def _run(instance: Instance, text: str, permission: Permission = Permission.MODERATOR) -> Reply:
    command, args = parse_chat(instance.registry, text)
    return await execute(command, Invocation("matrix", "@mod:hs", "Mod", "!room:hs", permission, args))


async def test_a_federated_round_needs_federation_and_keeps_its_deadlines(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path / "c.toml", tmp_path / "data"), environ={})
    async with open_instance(settings) as instance:
        voting, rounds = instance.app.voting, instance.app.federated_rounds
        assert voting is not None and rounds is not None
        refused = await _run(instance, "round start Night drive --federated !fed:hs")
        assert refused.failed and "does not federate" in refused.text
        assert await voting.open_rounds() == []  # refused before anything started
        rnd = await voting.start(
            RoundRules("Night drive"), member("mod"), "!room:hs", timedelta(hours=1), timedelta(hours=1)
        )
        fed = await rounds.announce(rnd, "!fed:hs", 0.5)
        closing = await _run(instance, f"round close {rnd.id}")  # the organiser closes for every community
        assert not closing.failed and "closed phase" in closing.text  # (no entries: nothing to vote on)
        moved = await rounds.get(fed.id)
        assert moved.submit_until < fed.submit_until and moved.vote_until == fed.vote_until
        assert [kind for _, _, kind, _ in await rounds.store.outbox_pending(10)][-1] == "schedule"
        too_late = await _run(instance, f"round cancel {fed.id}")
        assert too_late.failed and "can no longer be cancelled" in too_late.text
        status = await _run(instance, "round federated")
        assert not status.failed and "organised here" in status.text and "50%" in status.text
        left = await _run(instance, f"round leave {fed.id}")
        assert left.failed and "organiser cannot leave" in left.text
        joined = await _run(instance, f"round join {fed.id}")
        assert joined.failed and "already takes part" in joined.text
        members_only = await _run(instance, f"round join {fed.id}", Permission.MEMBER)
        assert members_only.failed


async def test_the_organiser_cancels_its_round_before_voting(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path / "c.toml", tmp_path / "data"), environ={})
    async with open_instance(settings) as instance:
        voting, rounds = instance.app.voting, instance.app.federated_rounds
        assert voting is not None and rounds is not None
        rnd = await voting.start(
            RoundRules("Night drive"), member("mod"), "!room:hs", timedelta(hours=1), timedelta(hours=1)
        )
        fed = await rounds.announce(rnd, "!fed:hs")
        assert (await _run(instance, f"round cancel {fed.id}", Permission.MEMBER)).failed
        cancelled = await _run(instance, f"round cancel {fed.id}")
        assert not cancelled.failed and "cancelled" in cancelled.text
        assert (await voting.get(rnd.id)).phase.value == "closed"
        assert [kind for _, _, kind, _ in await rounds.store.outbox_pending(10)][-1] == "cancel"
        again = await _run(instance, f"round cancel {fed.id}")
        assert again.failed and "is over" in again.text
