#!/opt/wavepool/venv/bin/python
"""The image's HEALTHCHECK: exit 0 when /healthz on this container's port says "ok"."""

from __future__ import annotations

import json
import os
import sys
import urllib.request


def main() -> int:
    """Ask the instance's own HTTP server (port from WAVEPOOL_HTTP_PORT, else 8477)."""
    url = f"http://127.0.0.1:{os.environ.get('WAVEPOOL_HTTP_PORT') or '8477'}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            status = json.loads(response.read()).get("status")
    except (OSError, ValueError) as error:
        sys.stderr.write(f"{url}: {error}\n")
        return 1
    return 0 if status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
