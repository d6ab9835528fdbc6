"""The Discord fake refuses what Discord refuses, the way Discord does, seen from the real discord.py client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from discord.http import Route

from tests.support.discord_fake import APP_ID, DiscordFake


@pytest.fixture
async def fake() -> AsyncIterator[DiscordFake]:
    server = DiscordFake()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(fake: DiscordFake) -> AsyncIterator[discord.Client]:
    base = Route.BASE
    Route.BASE = f"{fake.base}/api/v10"
    bot = discord.Client(intents=discord.Intents.none())
    await bot.login("fake-token")  # REST only: enough to send messages
    yield bot
    await bot.close()
    Route.BASE = base


async def _refused(action: Any) -> discord.HTTPException:
    with pytest.raises(discord.HTTPException) as caught:
        await action
    assert caught.value.status == 400
    return caught.value


async def _raw(client: discord.Client, channel_id: str, payload: dict[str, Any]) -> Any:
    return await client.http.request(
        Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id), json=payload
    )


@pytest.mark.parametrize(
    "kwargs, path",
    [
        ({"content": "x" * 2001}, "In content: Must be 2000 or fewer"),
        ({"embed": discord.Embed(title="t" * 257)}, "In embeds.0.title: Must be 256 or fewer"),
        ({"embed": discord.Embed(description="d" * 4097)}, "In embeds.0.description"),
        ({"embed": discord.Embed().add_field(name="n", value="v" * 1025)}, "In embeds.0.fields.0.value"),
        ({"embed": discord.Embed().set_footer(text="f" * 2049)}, "In embeds.0.footer.text"),
        (
            {"embeds": [discord.Embed(description="d" * 4000), discord.Embed(description="d" * 2001)]},
            "Embed size exceeds maximum size of 6000",
        ),
        ({"content": "hi", "nonce": "n" * 26}, "In nonce: Must be 25 or fewer"),
    ],
)
async def test_messages_over_discords_limits_are_refused_with_the_field_path(
    fake: DiscordFake, client: discord.Client, kwargs: dict[str, Any], path: str
) -> None:
    channel = await client.fetch_channel(int(fake.channels["music"]))
    error = await _refused(channel.send(**kwargs))  # type: ignore[union-attr]
    assert error.code == 50035 and path in error.text, error.text
    assert not fake.messages.get(fake.channels["music"])


async def test_components_and_raw_payloads_over_the_limits_are_refused(
    fake: DiscordFake, client: discord.Client
) -> None:
    button = {"type": 2, "style": 1, "label": "👍", "custom_id": "wp:vote:x"}
    six_rows = [{"type": 1, "components": [{**button, "custom_id": f"b{i}"}]} for i in range(6)]
    error = await _refused(_raw(client, fake.channels["music"], {"content": "x", "components": six_rows}))
    assert "In components: Must be 5 or fewer" in error.text
    wide = [{"type": 1, "components": [{**button, "custom_id": f"b{i}"} for i in range(6)]}]
    error = await _refused(_raw(client, fake.channels["music"], {"content": "x", "components": wide}))
    assert "In components.0.components: Must be 5 or fewer" in error.text
    twice = [{"type": 1, "components": [button]}, {"type": 1, "components": [button]}]
    error = await _refused(_raw(client, fake.channels["music"], {"content": "x", "components": twice}))
    assert "components.1.components.0.custom_id" in error.text
    long_label = [{"type": 1, "components": [{**button, "label": "l" * 81}]}]
    error = await _refused(_raw(client, fake.channels["music"], {"content": "x", "components": long_label}))
    assert "components.0.components.0.label" in error.text
    error = await _refused(_raw(client, fake.channels["music"], {"content": ""}))
    assert error.code == 50006
    eleven = [{"description": "d"} for _ in range(11)]  # discord.py itself refuses to send these
    error = await _refused(_raw(client, fake.channels["music"], {"embeds": eleven}))
    assert "In embeds: Must be 10 or fewer" in error.text


async def test_command_registration_over_the_limits_is_refused(fake: DiscordFake, client: discord.Client) -> None:
    good = {"name": "share", "description": "Share a track", "type": 1}
    cases = [
        ({**good, "name": "Share Track"}, "In 0.name"),
        ({**good, "description": "d" * 101}, "In 0.description: Must be 100 or fewer"),
        (
            {**good, "options": [{"type": 3, "name": f"o{i}", "description": "o"} for i in range(26)]},
            "In 0.options: Must be 25 or fewer",
        ),
        (
            {
                **good,
                "options": [
                    {"type": 3, "name": "genre", "description": "g", "choices": [{"name": "c" * 101, "value": "c"}]}
                ],
            },
            "In 0.options.0.choices.0.name",
        ),
        (
            {
                **good,
                "options": [
                    {"type": 3, "name": "a", "description": "a"},
                    {"type": 3, "name": "b", "description": "b", "required": True},
                ],
            },
            "In 0.options.1.required",
        ),
        (
            {
                **good,
                "options": [
                    {
                        "type": 3,
                        "name": f"o{i}",
                        "description": "d" * 100,
                        "choices": [{"name": "c" * 100, "value": "v" * 100} for _ in range(25)],
                    }
                    for i in range(2)
                ],
            },
            "Command exceeds maximum size (4000)",
        ),
    ]
    for command, path in cases:
        error = await _refused(client.http.bulk_upsert_global_commands(int(APP_ID), [command]))  # type: ignore[arg-type]
        assert error.code == 50035 and path in error.text, (path, error.text)
    error = await _refused(client.http.bulk_upsert_global_commands(int(APP_ID), [good, good]))  # type: ignore[list-item]
    assert "In 1.name" in error.text
    assert await client.http.bulk_upsert_global_commands(int(APP_ID), [good])  # type: ignore[list-item]


async def test_modals_over_the_limits_are_refused(fake: DiscordFake, client: discord.Client) -> None:
    route = Route(
        "POST", "/interactions/{interaction_id}/{interaction_token}/callback", interaction_id=1, interaction_token="tok"
    )
    text_input = {"type": 4, "custom_id": "text", "style": 2, "label": "Prompt", "max_length": 4000}
    modal = {"title": "Prompt save", "custom_id": "modal", "components": [{"type": 1, "components": [text_input]}]}
    for data, path in [
        ({**modal, "title": "t" * 46}, "In data.title"),
        (
            {**modal, "components": [{"type": 1, "components": [{**text_input, "label": "l" * 46}]}]},
            "In data.components.0.components.0.label",
        ),
        (
            {**modal, "components": [{"type": 1, "components": [{**text_input, "max_length": 4001}]}]},
            "data.components.0.components.0.max_length",
        ),
    ]:
        error = await _refused(client.http.request(route, json={"type": 9, "data": data}))
        assert error.code == 50035 and path in error.text, (path, error.text)
    assert await client.http.request(route, json={"type": 9, "data": modal})


async def test_threads_start_once_from_a_message_and_take_messages(fake: DiscordFake, client: discord.Client) -> None:
    channel = await client.fetch_channel(int(fake.channels["music"]))
    head = await channel.send("headline")  # type: ignore[union-attr]
    error = await _refused(head.create_thread(name="n" * 101))
    assert "In name: Must be 100 or fewer" in error.text
    thread = await head.create_thread(name="Weekly digest", auto_archive_duration=10080)
    assert thread.id == head.id and thread.parent_id == channel.id
    await thread.send("in the thread")
    assert [m["content"] for m in fake.thread_of(str(head.id))] == ["in the thread"]
    error = await _refused(head.create_thread(name="again"))
    assert error.code == 160004


async def test_an_enforced_nonce_returns_the_message_already_sent(fake: DiscordFake, client: discord.Client) -> None:
    channel = await client.fetch_channel(int(fake.channels["music"]))
    first = await channel.send("once", nonce="digest-2026-w48-0")  # type: ignore[union-attr]
    again = await channel.send("once", nonce="digest-2026-w48-0")  # type: ignore[union-attr]
    other = await channel.send("once", nonce="digest-2026-w48-1")  # type: ignore[union-attr]
    assert first.id == again.id != other.id
    assert len(fake.messages[fake.channels["music"]]) == 2
