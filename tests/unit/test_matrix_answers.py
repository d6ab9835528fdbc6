"""AnswerBatcher: a quiet room gets plain replies; answers due while one is being sent share one notice."""

from __future__ import annotations

import asyncio
from typing import Any

import nio

from bots.matrix.answers import ANSWERS_FIELD, BATCH_FROM, MOST_PER_NOTICE, AnswerBatcher, batchable
from bots.matrix.render import CONTENT_BYTES, json_bytes
from core.replies import Reply

VOTED = Reply(text="Vote counted.", private=True)


class _Client:
    """Records notices; holds each send until ``release`` is set."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.sending = asyncio.Event()

    async def room_send(self, room_id: str, kind: str, content: dict[str, Any]) -> nio.RoomSendResponse:
        await self.release.wait()
        self.sent.append(content)
        return nio.RoomSendResponse(f"$n{len(self.sent)}", room_id)


def _batcher() -> tuple[AnswerBatcher, _Client, list[tuple[str, str]]]:
    client = _Client()
    replies: list[tuple[str, str]] = []  # (event replied to, text)

    async def send_one(room_id: str, reply: Reply, event_id: str) -> None:
        client.sending.set()
        await client.release.wait()
        replies.append((event_id, reply.text))

    batcher = AnswerBatcher(client, send_one, lambda reply: (reply.text, reply.text))  # type: ignore[arg-type]
    return batcher, client, replies


async def test_an_answer_alone_is_a_plain_reply() -> None:
    batcher, client, replies = _batcher()
    await batcher.answer("!r:hs", "$a", "@a:hs", "Ann", VOTED)
    await batcher.answer("!r:hs", "$b", "@b:hs", "Bo", VOTED)
    assert replies == [("$a", "Vote counted."), ("$b", "Vote counted.")]
    assert client.sent == []


async def test_answers_due_while_one_is_sent_go_together_each_once() -> None:
    batcher, client, replies = _batcher()
    client.release.clear()  # the homeserver is slow
    count = 1 + MOST_PER_NOTICE + BATCH_FROM
    tasks = [asyncio.create_task(batcher.answer("!r:hs", "$e0", "@m0:hs", "M0", VOTED))]
    await client.sending.wait()  # the first answer is on its way
    tasks += [
        asyncio.create_task(batcher.answer("!r:hs", f"$e{i}", f"@m{i}:hs", f"M{i}", VOTED)) for i in range(1, count)
    ]
    await asyncio.sleep(0)  # one turn of the loop: each member's answer becomes due (no await before that)
    client.release.set()
    await asyncio.gather(*tasks)
    assert replies == [("$e0", "Vote counted.")]
    batched = [eid for notice in client.sent for eid in notice[ANSWERS_FIELD]]
    assert sorted(batched) == sorted(f"$e{i}" for i in range(1, count))  # every other member, once
    assert [len(n[ANSWERS_FIELD]) for n in client.sent] == [MOST_PER_NOTICE, BATCH_FROM]
    first = client.sent[0]
    assert first["msgtype"] == "m.notice" and first["m.mentions"] == {}  # nobody pinged
    assert first["body"].splitlines()[0] == "M1: Vote counted."
    assert "https://matrix.to/#/@m1:hs" in first["formatted_body"]


async def test_only_one_line_private_answers_are_batched() -> None:
    assert batchable(VOTED)
    assert batchable(Reply(text="No such round.", private=True, failed=True))
    assert not batchable(Reply(text="Round 3 is now in the voting phase."))  # the room should see it
    assert not batchable(Reply(text="a\nb", private=True))
    assert not batchable(Reply(title="Help", text="x", private=True))


async def test_long_answers_split_into_notices_under_the_event_limit() -> None:
    batcher, client, replies = _batcher()
    client.release.clear()
    long = Reply(text="\U0001f600" * 300, private=True)  # 300 characters, 1,200 bytes in text and again in HTML
    tasks = [asyncio.create_task(batcher.answer("!r:hs", "$e0", "@m0:hs", "M0", long))]
    await client.sending.wait()
    tasks += [
        asyncio.create_task(batcher.answer("!r:hs", f"$e{i}", "@m:hs", "N" * 200, long))
        for i in range(1, 1 + MOST_PER_NOTICE)
    ]
    await asyncio.sleep(0)
    client.release.set()
    await asyncio.gather(*tasks)
    assert len(client.sent) > 1
    for notice in client.sent:
        assert json_bytes(notice["body"]) + json_bytes(notice["formatted_body"]) <= CONTENT_BYTES
    assert sorted(eid for n in client.sent for eid in n[ANSWERS_FIELD]) == sorted(
        f"$e{i}" for i in range(1, 1 + MOST_PER_NOTICE)
    )


async def test_a_few_answers_at_once_are_still_plain_replies() -> None:
    batcher, client, replies = _batcher()
    client.release.clear()
    tasks = [asyncio.create_task(batcher.answer("!r:hs", "$e0", "@m0:hs", "M0", VOTED))]
    await client.sending.wait()
    tasks += [
        asyncio.create_task(batcher.answer("!r:hs", f"$e{i}", f"@m{i}:hs", f"M{i}", VOTED))
        for i in range(1, BATCH_FROM)
    ]
    await asyncio.sleep(0)
    client.release.set()
    await asyncio.gather(*tasks)
    assert [event_id for event_id, _ in replies] == [f"$e{i}" for i in range(BATCH_FROM)]  # in order, one each
    assert client.sent == []
