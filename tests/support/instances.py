"""Running Wavepool instances in the test process, each with its own data directory and key."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bots.runtime import Instance, open_instance, stop_parts
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
    """An opened instance and the tasks of its parts."""

    instance: Instance
    tasks: list[asyncio.Task[Any]]


@contextlib.asynccontextmanager
async def running(config: Path, parts: tuple[str, ...] = ("bots.federation.part",)) -> AsyncIterator[Running]:
    """Open an instance and start the named parts; stop them on exit."""
    async with open_instance(load_settings(config, environ={})) as instance:
        tasks = []
        for name in parts:
            module = __import__(name, fromlist=["start"])
            task = await module.start(instance)
            if task is not None:
                tasks.append(task)
        try:
            yield Running(instance, tasks)
        finally:
            await stop_parts(tasks)
