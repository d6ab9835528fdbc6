"""The control socket's protocol: one JSON line each way.

Request: ``{"argv": [...], "cwd": "/abs/dir"}`` — the command line's arguments (without
``--config``) and the caller's working directory, against which relative paths resolve.
Answer: ``{"rc": 0, "stdout": "...", "stderr": "..."}``.
"""

from __future__ import annotations

from pathlib import Path

SOCKET_NAME = "control.sock"
MAX_LINE = 1024 * 1024  # a request is a command line, never this long


def socket_path(data_dir: Path) -> Path:
    """Where the running instance listens."""
    return data_dir / SOCKET_NAME
