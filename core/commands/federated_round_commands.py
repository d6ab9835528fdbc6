"""Cross-community round commands: join, leave, status and results of federated rounds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from core.app import App
from core.commands.common import arg, need, sharer_of
from core.commands.declaration import Command, Invocation, Param, ParamKind, Permission, Reply
from core.errors import NotFoundError, UsageError
from core.model import Sharer
from core.services.federated_round_control import FederatedRoundControl
from core.services.federated_rounds import DEFAULT_TALLY_WINDOW, FederatedRoundService, check_options
from core.services.voting import VotingService
from core.views.federated_rounds import federated_results_reply, status_reply
from core.voting_model import Round


def _service(app: App) -> FederatedRoundService:
    service: FederatedRoundService = need(app.federated_rounds, "cross-community rounds")
    return service


@dataclass(frozen=True)
class FederatedOptions:
    """``round start --federated <room> [--cap 0.5] [--tally 10m]``, checked before the round starts."""

    room: str
    cap_share: float | None
    tally_window: timedelta


def federated_options(app: App, inv: Invocation) -> FederatedOptions | None:
    """The federated options of ``round start``, or None for a local round."""
    room = arg(inv, "federated")
    if not room:
        return None
    _service(app)
    if app.federation is None:
        raise UsageError("this instance does not federate: set up [matrix] and [federation] rooms first")
    cap = arg(inv, "cap")
    tally = arg(inv, "tally")
    options = FederatedOptions(
        str(room),
        float(cap) if cap is not None else None,
        timedelta(seconds=tally) if tally is not None else DEFAULT_TALLY_WINDOW,
    )
    check_options(options.cap_share, options.tally_window)
    return options


async def announce_if_federated(app: App, options: FederatedOptions | None, rnd: Round) -> str:
    """After ``round start``: announce the round in the federation room it was given."""
    if options is None:
        return ""
    fed = await _service(app).announce(rnd, options.room, options.cap_share, options.tally_window)
    return f" Announced to the federation as {fed.id}; other communities may join until voting opens."


async def close_if_federated(app: App, ref: str, by: Sharer) -> Round | None:
    """``round close`` of a federated round: the organiser closes the phase for every community
    (participants get the new deadlines, signed); None for a local round."""
    text = ref.strip().lstrip("#")
    service = app.federated_rounds
    if service is None or not text.isdigit() or await service.linked(int(text)) is None:
        return None
    fed = await FederatedRoundControl(service).close_phase(text, by)
    voting: VotingService = need(app.voting, "rounds")
    await voting.advance_due()  # the new deadline has passed: move the local round on now
    return await voting.get(str(fed.local_round))


FEDERATED_START_PARAMS = (
    Param("federated", ParamKind.TEXT, "a federation room: run the round across communities", required=False),
    Param("cap", ParamKind.NUMBER, "federated: most share of all voters one community counts for", required=False),
    Param("tally", ParamKind.DURATION, "federated: time for tallies after voting (default 10m)", required=False),
)


def federated_round_commands(app: App) -> list[Command]:
    """Declarations of the cross-community round commands."""

    async def join(inv: Invocation) -> Reply:
        local = await _service(app).join(str(arg(inv, "round")), sharer_of(inv), inv.place)
        return Reply(
            text=f"Joined: round {local.label} is open here for submissions until "
            f"{local.submit_until:%Y-%m-%d %H:%M} UTC.",
            data={"round": local.id},
        )

    async def leave(inv: Invocation) -> Reply:
        fed = await _service(app).leave(str(arg(inv, "round")), sharer_of(inv))
        return Reply(text=f"This community left the round {fed.label}.", data={"federated_round": fed.id})

    async def show(inv: Invocation) -> Reply:
        service = _service(app)
        ref = arg(inv, "round")
        if ref:
            fed = await service.get(str(ref))
        else:
            recent = await service.recent(1)
            if not recent:
                raise NotFoundError("no cross-community round is known here")
            fed = recent[0]
        if fed.results_at is not None and fed.takes_part:
            return await federated_results_reply(
                app.tracks, fed, await service.entries(fed), await service.results(fed)
            )
        if not fed.takes_part and inv.permission < Permission.MODERATOR:
            raise UsageError("this community does not take part in that round")
        return status_reply(
            fed, await service.participants(fed), await service.held(fed), await service.store.tallies(fed.id)
        )

    async def cancel(inv: Invocation) -> Reply:
        fed = await FederatedRoundControl(_service(app)).cancel(str(arg(inv, "round")), sharer_of(inv))
        return Reply(
            text=f"The round {fed.label} is cancelled; the other communities close it with a notice.",
            data={"federated_round": fed.id},
        )

    round_param = Param("round", ParamKind.TEXT, "the federated round's id (or a unique part of it)")
    return [
        Command("round join", "Take part in a cross-community round", join, (round_param,), Permission.MODERATOR),
        Command(
            "round leave", "Leave a cross-community round before voting", leave, (round_param,), Permission.MODERATOR
        ),
        Command(
            "round cancel",
            "Cancel a cross-community round this community organises, before voting",
            cancel,
            (round_param,),
            Permission.MODERATOR,
        ),
        Command(
            "round federated",
            "A cross-community round: communities, entries, tallies, results",
            show,
            (Param("round", ParamKind.TEXT, "its id (default: the latest)", required=False),),
        ),
    ]
