"""Chromaprint raw fingerprints through ``fpcalc``."""

from __future__ import annotations

import json
from pathlib import Path

from core.model import Fingerprint
from storage.media.tools import run

# Debian 12's fpcalc exits 3 on valid output (docs/FACTS.md): accept it, check the JSON.
_OK_CODES = (0, 3)


async def fingerprint(path: Path, max_seconds: int = 180) -> Fingerprint | None:
    """The raw fingerprint of the first ``max_seconds``, or None when too short or unreadable."""
    code, out, _err = await run(["fpcalc", "-raw", "-json", "-length", str(max_seconds), str(path)], timeout_s=120)
    if code not in _OK_CODES:
        return None
    try:
        data = json.loads(out)
    except ValueError:
        return None
    values = data.get("fingerprint") or []
    if not isinstance(values, list) or len(values) < 16:
        return None
    return Fingerprint(tuple(int(v) & 0xFFFFFFFF for v in values), float(data.get("duration") or 0.0))
