"""run_in_lanes: each lane in order, lanes at once (bounded), a barrier after all before it."""

from __future__ import annotations

import asyncio

from bots.matrix.lanes import run_in_lanes


async def test_lanes_keep_their_order_and_overlap_up_to_the_limit() -> None:
    done: list[tuple[str, int]] = []
    busy = 0
    most = 0

    async def handle(item: tuple[str, int]) -> None:
        nonlocal busy, most
        busy += 1
        most = max(most, busy)
        await asyncio.sleep(0.001 * (3 - item[1]))  # a lane's first item is its slowest
        busy -= 1
        done.append(item)

    items = [(lane, n) for n in range(3) for lane in "abcdefgh"]
    await run_in_lanes(items, lane_of=lambda item: item[0], handle=handle, limit=4)
    assert sorted(done) == sorted(items)  # every item once
    for lane in "abcdefgh":
        assert [n for name, n in done if name == lane] == [0, 1, 2]
    assert most == 4


async def test_a_barrier_waits_for_what_came_before_and_runs_alone() -> None:
    done: list[str] = []

    async def handle(item: str) -> None:
        await asyncio.sleep(0.002 if item.startswith("slow") else 0)
        done.append(item)

    await run_in_lanes(
        ["slow-a", "b", "CLOSE", "c"], lane_of=lambda item: item, handle=handle, is_barrier=lambda i: i == "CLOSE"
    )
    assert done.index("CLOSE") == 2 and done[-1] == "c"


async def test_a_failing_item_does_not_stop_its_lane() -> None:
    done: list[int] = []

    async def handle(item: int) -> None:
        if item == 1:
            raise RuntimeError("boom")
        done.append(item)

    await run_in_lanes([0, 1, 2], lane_of=lambda _: "one", handle=handle)
    assert done == [0, 2]
