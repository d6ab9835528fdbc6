"""Where a subcommand's words go: the terminal, or a buffer sent back over the control socket."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from core.replies import Dialect, localize_text

TERMINAL = Dialect("wavepool cmd ")


@dataclass
class Output:
    """Standard output and error of one subcommand, and the caller's working directory."""

    cwd: Path = field(default_factory=Path.cwd)
    buffered: bool = False
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def out(self, text: str) -> None:
        """A line of output."""
        if self.buffered:
            self.stdout.append(text + "\n")
        else:
            sys.stdout.write(text + "\n")

    def raw(self, text: str) -> None:
        """Output as it is (no newline added)."""
        if self.buffered:
            self.stdout.append(text)
        else:
            sys.stdout.write(text)

    def err(self, text: str) -> None:
        """A line for standard error, prefixed like every wavepool message (an error's hints and
        times written for the terminal)."""
        text = localize_text(text, TERMINAL)
        if self.buffered:
            self.stderr.append(f"wavepool: {text}\n")
        else:
            sys.stderr.write(f"wavepool: {text}\n")

    def path(self, value: str | Path) -> Path:
        """A path the caller typed, made absolute against the caller's working directory."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.cwd / path
