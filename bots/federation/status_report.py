"""What ``wavepool federation status`` shows: per room, the queue, the outbox, parked items,
and whether the homeserver throttles the bot account."""

from __future__ import annotations

import json
import logging
import urllib.parse
from datetime import UTC, datetime
from typing import Any

from bots.federation.matrix_api import MatrixApi, MatrixError
from bots.federation.room_reader import NAMESPACE, TYPES
from bots.instance import Instance
from storage.sqlite.federation_store import SqliteFederationStore

log = logging.getLogger(__name__)

BEHIND_PAGES = 10  # of 100 events: "events behind" is counted up to 1,000

EXEMPT_HOWTO = (
    "ask a homeserver admin to exempt it: POST /_synapse/admin/v1/users/{user}/override_ratelimit "
    'with {{"messages_per_second": 0, "burst_count": 0}} (see docs/FEDERATION.md)'
)


async def rate_limit_exemption(api: MatrixApi) -> tuple[bool | None, str]:
    """(exempt or not or None when unknown, words) for the bot account, from Synapse's admin API.

    Only an admin account may read it; for any other the answer is unknown."""
    user = urllib.parse.quote(api.user_id, safe="")
    try:
        data = await api.request("GET", f"/_synapse/admin/v1/users/{user}/override_ratelimit", timeout_s=10)
    except MatrixError as error:
        if error.status in (401, 403, 404):
            return None, "unknown (the account is not a homeserver admin); " + EXEMPT_HOWTO.format(user=api.user_id)
        return None, f"unknown ({error}); " + EXEMPT_HOWTO.format(user=api.user_id)
    except Exception as error:
        return None, f"unknown ({type(error).__name__}); " + EXEMPT_HOWTO.format(user=api.user_id)
    if data and int(data.get("messages_per_second", 1) or 0) == 0 and int(data.get("burst_count", 1) or 0) == 0:
        return True, "exempt from the homeserver's rate limits"
    if data:
        return False, f"limited to {data.get('messages_per_second')}/s (burst {data.get('burst_count')}); " + (
            EXEMPT_HOWTO.format(user=api.user_id)
        )
    return False, "NOT exempt: the homeserver's default limits apply; " + EXEMPT_HOWTO.format(user=api.user_id)


async def events_behind(api: MatrixApi, room_id: str, last: str | None) -> int | None:
    """Federation events in the room after the last one read here (counted up to 1,000)."""
    count, start = 0, None
    for _ in range(BEHIND_PAGES):
        page = await api.messages(room_id, start, "b", 100)
        for event in page.get("chunk") or ():
            if event.get("event_id") == last:
                return count
            if event.get("type") in TYPES:
                count += 1
        start = page.get("end")
        if not page.get("chunk") or not start:
            return count if last is None else None
    return None


async def status_report(
    instance: Instance, rooms: list[str], waiting: list[str], api: MatrixApi | None
) -> dict[str, Any]:
    """Everything ``federation status`` shows, as data (``--json`` prints it as it is)."""
    state = instance.state
    store = SqliteFederationStore(instance.db)
    now = datetime.now(UTC)
    per_room: list[dict[str, Any]] = []
    for room in [*rooms, *[w for w in waiting if w not in rooms]]:
        row: dict[str, Any] = {"room": room, "joined": room not in waiting}
        at = await state.get(NAMESPACE, f"room:{room}:at")
        row["checkpoint_age_s"] = round((now - datetime.fromisoformat(at)).total_seconds()) if at else None
        path = json.loads(await state.get(NAMESPACE, f"room:{room}:path") or "null")
        row["read_by"] = path
        if api is not None and row["joined"]:
            try:
                row["events_behind"] = await events_behind(api, room, await state.get(NAMESPACE, f"room:{room}:last"))
            except Exception as error:
                row["events_behind"] = None
                row["error"] = str(error)[:200]
        per_room.append(row)
    exempt: bool | None = None
    words = "unknown (the homeserver was not asked: no running federation and no kept session)"
    if api is not None:
        exempt, words = await rate_limit_exemption(api)
    parked_out = await store.outbox_parked(50)
    parked_in = await store.parked_fetches(50)
    return {
        "instance": instance.identity.instance_id,
        "account": api.user_id if api is not None else instance.settings.matrix.user_id,
        "rooms": per_room,
        "fetch_queue": dict(await store.queue_counts()),
        "outbox": len(await store.outbox_pending(100_000)),
        "parked_outbox": [{"id": i.id, "kind": i.kind, "error": i.last_error} for i in parked_out],
        "parked_fetches": [{"track": i.track_id, "cid": i.cid, "error": i.last_error} for i in parked_in],
        "failing_fetches": [
            {"cid": i.cid, "attempts": i.attempts, "error": i.last_error} for i in await store.failures(10)
        ],
        "rate_limits": {"exempt": exempt, "detail": words},
    }


def render_status(report: dict[str, Any]) -> list[str]:
    """The report as lines for a terminal."""
    lines = [f"instance {report['instance']} as {report['account']}"]
    if not report["rooms"]:
        lines.append("rooms: none (wavepool federation create|join)")
    for row in report["rooms"]:
        if not row["joined"]:
            lines.append(f"room {row['room']}: WAITING (cannot be joined yet; retried)")
            continue
        age = row["checkpoint_age_s"]
        read_by = row["read_by"] or {}
        how = (
            f"snapshot {read_by.get('cid', '')[:16]}… from {read_by.get('from')} ({read_by.get('entries')} entries)"
            if read_by.get("path") == "snapshot"
            else "history"
            if read_by
            else "not read yet"
        )
        behind = row.get("events_behind")
        lines.append(
            f"room {row['room']}: joined; checkpoint {_age(age)}; "
            f"{'?' if behind is None else behind} events behind; first read by {how}"
        )
    q = report["fetch_queue"]
    lines.append(f"fetch queue: {q['waiting']} waiting, {q['retrying']} retrying, {q['parked']} parked")
    lines.append(f"outbox: {report['outbox']} pending, {len(report['parked_outbox'])} parked")
    for item in report["parked_outbox"]:
        lines.append(f"  parked outbox {item['id']} ({item['kind']}): {item['error']}")
    for item in report["parked_fetches"]:
        lines.append(f"  parked fetch {item['track']} ({item['cid']}): {item['error']}")
    for item in report["failing_fetches"]:
        lines.append(f"  failing {item['cid']} ({item['attempts']} attempts): {item['error']}")
    if report["parked_outbox"] or report["parked_fetches"]:
        lines.append("  (wavepool federation retry <id|all> / drop <id>)")
    lines.append(f"rate limits: {report['rate_limits']['detail']}")
    return lines


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "none yet"
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"
