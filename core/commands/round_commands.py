"""Voting round commands and the vote button."""

from __future__ import annotations

from datetime import timedelta

from core.app import App
from core.commands.common import arg, need, sharer_of, viewer_of
from core.commands.declaration import Command, Invocation, Param, ParamKind, Permission, Reply
from core.commands.federated_round_commands import (
    FEDERATED_START_PARAMS,
    announce_if_federated,
    close_if_federated,
    federated_options,
)
from core.commands.place_commands import place_name
from core.commands.track_refs import resolve_track
from core.errors import NotFoundError, UsageError
from core.replies import VoteChoice, command_hint, moment
from core.services.voting import VotingService
from core.views.rounds import OUTCOME_WORDS, STATUS_ENTRIES, results_reply, status_reply
from core.voting_model import BallotType, Phase, RoundRules

RECENT_SCANNED = 50
_YES = {"yes", "y", "true", "on", "1"}


def _voting(app: App) -> VotingService:
    service: VotingService = need(app.voting, "voting rounds")
    return service


async def _closed_round_ref(app: App, inv: Invocation) -> str:
    """The round named, else the latest closed one (what ``round results`` shows)."""
    ref = arg(inv, "round")
    if ref:
        return str(ref)
    for rnd in await _voting(app).recent_rounds(RECENT_SCANNED):
        if rnd.phase is Phase.CLOSED:
            return str(rnd.id)
    raise NotFoundError("no round has closed yet; give a round number")


async def _round_ref(app: App, inv: Invocation) -> str:
    ref = arg(inv, "round")
    if ref:
        return str(ref)
    open_rounds = await _voting(app).open_rounds()
    if not open_rounds:
        raise NotFoundError("there is no open round; give a round number")
    return str(open_rounds[-1].id)


def round_commands(app: App) -> list[Command]:
    """Declarations of the round commands."""

    async def start(inv: Invocation) -> Reply:
        genre = arg(inv, "genre")
        if genre and app.genres is not None:
            genre = app.genres.get(genre).name
        rules = RoundRules(
            theme=arg(inv, "theme"),
            genre=genre,
            entries_per_member=arg(inv, "entries", 1),
            ballot=BallotType(arg(inv, "ballot", "approval")),
            max_approvals=arg(inv, "approvals", 3),
            min_account_age_days=arg(inv, "min_age_days", 0.0),
            required_role=arg(inv, "role"),
            anonymous=str(arg(inv, "anonymous", "no")).lower() in _YES,
        )
        federated_round = federated_options(app, inv)
        rnd = await _voting(app).start(
            rules,
            sharer_of(inv),
            inv.place,
            timedelta(seconds=arg(inv, "submit", 2 * 86400.0)),
            timedelta(seconds=arg(inv, "vote", 2 * 86400.0)),
        )
        federated = await announce_if_federated(app, federated_round, rnd)
        where = await app.destination(f"round:{rnd.id}", inv.platform)
        posts = (
            "Its announcements are posted here."
            if where in (None, inv.place) and inv.platform != "cli"
            else f"Its announcements are posted to {await place_name(inv, where)}."
            if where
            else f"Set where its announcements go with `{command_hint('channel set round <place>')}`."
        ) + federated
        return Reply(
            text=f"Round {rnd.label} started: submissions until "
            f"{moment(rnd.submit_until)}, voting until {moment(rnd.vote_until)}. " + posts,
            data={"round": rnd.id},
        )

    async def status(inv: Invocation) -> Reply:
        voting = _voting(app)
        rnd = await voting.get(await _round_ref(app, inv))
        shown, count = await voting.first_entries(rnd, STATUS_ENTRIES)  # a big round: not every entry
        return await status_reply(app.tracks, rnd, shown, await voting.voter_count(rnd), entry_count=count)

    async def submit(inv: Invocation) -> Reply:
        voting = _voting(app)
        ref = await _round_ref(app, inv)
        track_ref = arg(inv, "track")
        if inv.attachments and not track_ref:
            shared = await app.share.share_file(
                inv.attachments[0].path, sharer_of(inv), place=inv.place, filename=inv.attachments[0].filename
            )
            track_ref = shared.track.id
        if not track_ref:
            raise UsageError("name one of your tracks (or attach the audio) to submit")
        if not inv.attachments:
            track_ref = (await resolve_track(app, str(track_ref), inv, viewer_of(inv), own=True)).id
        entry = await voting.submit(ref, str(track_ref), sharer_of(inv), inv.account_age_days, inv.roles)
        return Reply(
            text=f"Entered as entry {entry.number} of round #{entry.round_id}.",
            data={"round": entry.round_id, "entry": entry.number},
        )

    async def vote(inv: Invocation) -> Reply:
        outcome = await _voting(app).vote(
            await _round_ref(app, inv),
            arg(inv, "entry"),
            sharer_of(inv),
            arg(inv, "value", 1),
            account_age_days=inv.account_age_days,
            roles=inv.roles,
        )
        return Reply(text=OUTCOME_WORDS[outcome], private=True)

    async def close(inv: Invocation) -> Reply:
        ref = await _round_ref(app, inv)
        rnd = await close_if_federated(app, ref, sharer_of(inv)) or await _voting(app).close_phase(ref, sharer_of(inv))
        return Reply(
            text=f"Round {rnd.label} is now in the {rnd.phase.value} phase.",
            data={"round": rnd.id, "phase": rnd.phase.value},
        )

    async def results(inv: Invocation) -> Reply:
        voting = _voting(app)
        rnd = await voting.closed(await _closed_round_ref(app, inv), moderator=inv.permission >= Permission.MODERATOR)
        return await results_reply(voting, app.tracks, rnd)

    round_param = Param(
        "round", ParamKind.TEXT, "round number (default: the latest open one)", required=False, autocomplete="rounds"
    )
    return [
        Command(
            "round start",
            "Start a voting round",
            start,
            (
                Param("theme", ParamKind.TEXT, "the theme", rest=True),
                Param("submit", ParamKind.DURATION, "submission window, e.g. 2d", required=False),
                Param("vote", ParamKind.DURATION, "voting window, e.g. 2d", required=False),
                Param("genre", ParamKind.TEXT, "only tracks of this genre", required=False, autocomplete="genres"),
                Param("entries", ParamKind.INTEGER, "entries per member (default 1)", required=False),
                Param("ballot", ParamKind.CHOICE, "approval or score", required=False, choices=("approval", "score")),
                Param("approvals", ParamKind.INTEGER, "approvals per voter (default 3)", required=False),
                Param("min_age_days", ParamKind.NUMBER, "minimum membership age in days", required=False),
                Param("role", ParamKind.TEXT, "role needed to take part", required=False),
                Param(
                    "anonymous", ParamKind.CHOICE, "hide entrants until results", required=False, choices=("yes", "no")
                ),
                *FEDERATED_START_PARAMS,
            ),
            Permission.MODERATOR,
        ),
        Command("round status", "Phase, deadlines and entries of a round", status, (round_param,)),
        Command(
            "round submit",
            "Enter one of your tracks into a round",
            submit,
            (
                Param("round", ParamKind.TEXT, "round number", autocomplete="rounds"),
                Param("track", ParamKind.TRACK, "your track", required=False, autocomplete="my_tracks"),
                Param("file", ParamKind.ATTACHMENT, "or the audio itself", required=False),
            ),
        ),
        Command(
            "round vote",
            "Vote for an entry (0 withdraws)",
            vote,
            (
                Param("round", ParamKind.TEXT, "round number", autocomplete="rounds"),
                Param("entry", ParamKind.INTEGER, "entry number"),
                Param("value", ParamKind.INTEGER, "1 to approve, 1-5 for scores, 0 to withdraw", required=False),
            ),
        ),
        Command("round close", "End the current phase of a round now", close, (round_param,), Permission.MODERATOR),
        Command(
            "round results",
            "The ranking of a closed round",
            results,
            (
                Param(
                    "round",
                    ParamKind.TEXT,
                    "round number (default: the latest closed one)",
                    required=False,
                    autocomplete="rounds",
                ),
            ),
        ),
    ]


def vote_button(app: App):  # type: ignore[no-untyped-def]
    """The handler of ``wp:vote:<value>`` buttons (and reactions mapped to them)."""

    async def press(inv: Invocation, value: str) -> Reply:
        toggle = inv.args.get("toggle", True) is not False
        try:
            choice = VoteChoice.decode(value)
        except ValueError:
            raise UsageError("this vote button is not valid") from None
        if choice.track_id is not None:
            outcome = await _voting(app).vote_track(choice.track_id, sharer_of(inv), choice.value, toggle=toggle)
        else:
            outcome = await _voting(app).vote(
                str(choice.round_id),
                choice.entry or 0,
                sharer_of(inv),
                choice.value,
                toggle=toggle,
                account_age_days=inv.account_age_days,
                roles=inv.roles,
                cast_at=inv.acted_at,
            )
        return Reply(text=OUTCOME_WORDS[outcome], private=True, data={"outcome": outcome.value})

    return press
