"""Killing and restarting a test Synapse in place (same folder, port and database)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

from tests.support.homeserver import START_TIMEOUT_S, Homeserver, _die_with_parent


def kill(server: Homeserver) -> None:
    """SIGKILL, as a crash or an OOM kill would: no clean shutdown."""
    assert server.process is not None
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=30)


def restart(server: Homeserver) -> None:
    """Start it again on the same port with the same data; returns once it answers."""
    out = (server.folder / "stdout.log").open("ab")
    server.process = subprocess.Popen(
        [sys.executable, "-m", "synapse.app.homeserver", "-c", str(server.folder / "homeserver.yaml")],
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent,
        cwd=server.folder,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{server.url}/_matrix/client/versions", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)  # polling a process start: there is nothing to wait on but the port
    raise RuntimeError(f"Synapse did not come back:\n{server.log_tail()}")
