"""The organiser's signed round updates: new deadlines (a phase closed early) and a cancel."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from core.errors import IntegrityError
from core.federated_round_model import FederatedRound
from core.federation.round_documents import organiser_doc, origin_of, phases_of


def schedule_doc(fed: FederatedRound, at: datetime) -> dict[str, Any]:
    """The round's deadlines as they stand now at the organiser."""
    return organiser_doc(fed, "round_schedule", at, phases=phases_of(fed))


def cancel_doc(fed: FederatedRound, at: datetime) -> dict[str, Any]:
    """The organiser cancels the round (before voting opened)."""
    return organiser_doc(fed, "round_cancel", at)


def _time(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError("a time without a time zone")
    return moment.astimezone(UTC)


def read_schedule(doc: Mapping[str, Any]) -> tuple[str, datetime, datetime, datetime]:
    """(round id, submit_until, vote_until, tally_until) of a schedule update."""
    try:
        origin_of(doc)
        phases = doc["phases"]
        return (
            str(doc["round"]),
            _time(phases["submit_until"]),
            _time(phases["vote_until"]),
            _time(phases["tally_until"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise IntegrityError(f"malformed round schedule: {error}") from error


def read_cancel(doc: Mapping[str, Any]) -> str:
    """The round id a cancel names."""
    try:
        origin_of(doc)
        return str(doc["round"])
    except (KeyError, TypeError, ValueError) as error:
        raise IntegrityError(f"malformed round cancel: {error}") from error
