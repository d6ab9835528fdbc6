"""Turning fuzzer bytes into JSON values and changed manifests (used by the atheris harnesses)."""

from __future__ import annotations

import copy
import json
from typing import Any

from atheris import FuzzedDataProvider


def json_value(fdp: FuzzedDataProvider, depth: int = 0) -> Any:
    """A JSON value drawn from the fuzzer's bytes (bounded depth)."""
    kind = fdp.ConsumeIntInRange(0, 7 if depth < 4 else 4)
    if kind == 0:
        return None
    if kind == 1:
        return fdp.ConsumeBool()
    if kind == 2:
        return fdp.ConsumeInt(8)
    if kind == 3:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 40))
    if kind == 4:
        return fdp.ConsumeRegularFloat()
    if kind == 5:
        return [json_value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    return {fdp.ConsumeUnicodeNoSurrogates(8): json_value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 4))}


def changed(base: dict[str, Any], fdp: FuzzedDataProvider) -> tuple[dict[str, Any], bool]:
    """``base`` with a few fields replaced, added or removed; whether anything changed."""
    document = copy.deepcopy(base)
    keys = sorted(document)
    for _ in range(fdp.ConsumeIntInRange(0, 3)):
        how = fdp.ConsumeIntInRange(0, 3)
        if how == 0:
            key = keys[fdp.ConsumeIntInRange(0, len(keys) - 1)]
            document[key] = json_value(fdp)
        elif how == 1:
            document[fdp.ConsumeUnicodeNoSurrogates(10)] = json_value(fdp)
        elif how == 2 and document:
            document.pop(sorted(document)[fdp.ConsumeIntInRange(0, len(document) - 1)], None)
        else:
            key = keys[fdp.ConsumeIntInRange(0, len(keys) - 1)]
            inner = document.get(key)
            if isinstance(inner, dict) and inner:
                inner[sorted(inner)[fdp.ConsumeIntInRange(0, len(inner) - 1)]] = json_value(fdp)
    return document, _covered(document) != _covered(base)


def _covered(value: Any) -> str:
    """What the signature vouches for: the body, plus the key and signature it must carry.

    ``signature.instance`` is a hint for finding the key, not covered: changing it may
    leave the signature valid, and that is fine (the key is what is checked).
    """
    if not isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    signature = value.get("signature")
    if isinstance(signature, dict):
        signature = {"key": signature.get("key"), "sig": signature.get("sig")}
    covered = {**value, "signature": signature}
    return json.dumps(covered, sort_keys=True, ensure_ascii=False, default=str)


def document_from(data: bytes, base: dict[str, Any]) -> tuple[Any, bool]:
    """The event content a fuzz input stands for: raw JSON, or a changed ``base``."""
    fdp = FuzzedDataProvider(data)
    if fdp.ConsumeIntInRange(0, 3) == 0:
        text = fdp.ConsumeBytes(fdp.remaining_bytes())
        try:
            return json.loads(text), True
        except (ValueError, RecursionError):
            return None, True
    return changed(base, fdp)
