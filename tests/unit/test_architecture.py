"""The dependency rules of STYLE.md, checked mechanically with import-linter."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_layers_import_only_what_the_architecture_allows() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_package_of_ours_shadows_a_library_it_adapts() -> None:
    # `bots/discord` and `bots/matrix` are fine as sub-packages, never as top-level ones.
    for name in ("discord", "nio", "aiosqlite", "mutagen", "c2pa", "yt_dlp"):
        assert not (ROOT / name).exists(), f"a top-level folder named {name} would hide the library"


def _tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def test_lint_is_clean() -> None:
    result = subprocess.run([_tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_code_is_formatted() -> None:
    result = subprocess.run(
        [_tool("ruff"), "format", "--check", "."], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_repository_stands_alone() -> None:
    """Code and docs never point at files outside the repository: facts go in docs/."""
    outside = re.compile(r"\bnotes/\w+\.md|\.\./shared")
    offenders = []
    for folder in ("bots", "core", "storage", "config", "tests", "docs", "bench", "docker"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".md", ".toml", ".yaml", ".yml") and path.is_file():
                text = path.read_text(encoding="utf-8", errors="replace")
                offenders += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in outside.finditer(text)]
    assert not offenders, offenders


def test_every_package_type_checks_strictly() -> None:
    result = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
