"""Running Wavepool instances in the test process, each with its own data directory and key."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bots.instance import Instance
from bots.runtime import Parts, build_parts, open_instance, start_parts, stop_parts
from config import load_settings
from tests.support.waiting import eventually

__all__ = ["Running", "eventually", "running", "write_config"]


def write_config(path: Path, data_dir: Path, **tables: dict[str, Any]) -> Path:
    """A TOML config: ``tables`` maps table names to their keys."""
    lines = ["[instance]", f'data_dir = "{data_dir}"', f'name = "{data_dir.name}"']
    for table, values in tables.items():
        if table == "instance":
            lines += [f"{k} = {_toml(v)}" for k, v in values.items()]
            continue
        lines.append(f"[{table}]")
        lines += [f"{k} = {_toml(v)}" for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class Running:
    """An opened instance, its parts and their tasks."""

    instance: Instance
    parts: Parts

    @property
    def tasks(self) -> list[asyncio.Task[Any]]:
        """The parts' tasks (and the dispatcher's)."""
        return self.parts.tasks


_NAMES = {
    "bots.federation.part": "federation",
    "bots.matrix.part": "matrix",
    "bots.discord.part": "discord",
    "bots.scheduler_part": "scheduler",
}


@contextlib.asynccontextmanager
async def running(config: Path, parts: tuple[str, ...] = ("federation",)) -> AsyncIterator[Running]:
    """Open an instance and start the named parts (and the event dispatcher); stop them on exit.

    With federation on, waits until it has logged in and joined its rooms."""
    async with open_instance(load_settings(config, environ={})) as instance:
        built = build_parts(instance, [_NAMES.get(name, name) for name in parts])
        start_parts(built)
        try:
            if built.scheduler is not None:
                scheduler = built.scheduler

                async def armed() -> bool:
                    return scheduler.ready()

                await eventually(armed, 30, "the scheduler to advance what is due")
            if built.federation is not None:
                federation = built.federation

                async def joined() -> bool:  # in its rooms, waiting for one that cannot be joined yet, or none yet
                    runner = federation.runner
                    return runner is not None and (runner.joined or bool(runner.waiting) or not runner.transport.rooms)

                await eventually(joined, 30, "federation to log in and join")
            yield Running(instance, built)
        finally:
            await stop_parts(built.tasks)
