"""The Docker tests are opt-in: `-m docker`, or WAVEPOOL_DOCKER_TESTS=1 (set by .ci/run)."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("WAVEPOOL_DOCKER_TESTS") == "1" or "docker" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(
        reason="opt-in: builds images on a real Docker engine (13-15 min here); "
        "run with `-m docker` or WAVEPOOL_DOCKER_TESTS=1, as .ci/run does"
    )
    for item in items:
        if item.get_closest_marker("docker") is not None:
            item.add_marker(skip)
