"""A bounded run of each atheris harness (tests/fuzz/harnesses.py) in its own process.

libFuzzer owns the process it runs in (it exits when done), hence the subprocess. The
seed is fixed, so a CI failure reproduces with the command in the message. Longer runs
and their findings are recorded in docs/RELIABILITY.md.
"""

from __future__ import annotations

import base64
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNS = {"manifest": 8000, "events": 3000, "sniff": 3000}  # about 10-15 s each on the CI machine

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("atheris") is None,
    reason="atheris is not installed (Linux, Python < 3.13 only)",
)


@pytest.mark.parametrize("name", sorted(RUNS))
def test_harness_finds_no_crash(name: str, tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "tests.fuzz.run",
        name,
        "--runs",
        str(RUNS[name]),
        "--corpus",
        str(tmp_path / "corpus"),
        "--artifacts",
        str(tmp_path / "artifacts"),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    crashes = sorted((tmp_path / "artifacts").glob("*"))
    found = "\n".join(f"{c.name}: {base64.b64encode(c.read_bytes()).decode()}" for c in crashes)
    assert done.returncode == 0 and not crashes, (
        f"{' '.join(command[1:])} failed (exit {done.returncode}); inputs (base64):\n{found}\n{done.stderr[-3000:]}"
    )
    assert f"Done {RUNS[name]} runs" in done.stderr
