"""The command line's side of the control socket."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from bots.control.protocol import MAX_LINE, socket_path


async def send(data_dir: Path, argv: list[str], cwd: Path) -> dict[str, Any] | None:
    """Run ``argv`` in the instance running on ``data_dir``; None when none is running."""
    path = socket_path(data_dir)
    if not path.exists():
        return None
    try:
        reader, writer = await asyncio.open_unix_connection(str(path), limit=MAX_LINE * 64)
    except OSError:
        return None  # a socket file left by an instance that was killed
    try:
        writer.write(json.dumps({"argv": argv, "cwd": str(cwd)}).encode() + b"\n")
        await writer.drain()
        line = await reader.readline()
    finally:
        writer.close()
    if not line:
        raise ConnectionError("the running instance closed the control socket without an answer")
    answer: dict[str, Any] = json.loads(line)
    return answer
