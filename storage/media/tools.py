"""Running ffmpeg, ffprobe and fpcalc: bounded time, output captured, clear failures."""

from __future__ import annotations

import asyncio
import shutil

from core.errors import CorruptAudioError


class ToolMissing(RuntimeError):
    """A required program is not installed."""


def require(name: str) -> str:
    """The path of a program, or ToolMissing with the package to install."""
    found = shutil.which(name)
    if not found:
        package = "libchromaprint-tools" if name == "fpcalc" else "ffmpeg"
        raise ToolMissing(f"{name} is not installed (apt-get install {package})")
    return found


async def run(args: list[str], timeout_s: float = 120.0) -> tuple[int, bytes, bytes]:
    """(exit code, stdout, stderr); the process is killed at the timeout."""
    proc = await asyncio.create_subprocess_exec(
        require(args[0]),
        *args[1:],
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise CorruptAudioError(f"{args[0]} took longer than {timeout_s:.0f} s on this file") from None
    return proc.returncode or 0, out, err
