"""Reading and validating C2PA manifests with c2pa-python, against the operator's anchors."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import c2pa

from core.ports import C2paInfo

log = logging.getLogger(__name__)

SUPPORTED = {"audio/mpeg", "audio/wav", "audio/flac", "audio/mp4", "audio/x-wav", "audio/vnd.wave"}


def _actions(manifest: dict[str, Any]) -> tuple[list[str], list[str]]:
    names: list[str] = []
    sources: list[str] = []
    for assertion in manifest.get("assertions") or []:
        label = str(assertion.get("label", ""))
        if not label.startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            names.append(str(action.get("action", "")))
            source = action.get("digitalSourceType") or (action.get("parameters") or {}).get("digitalSourceType")
            if source:
                sources.append(str(source))
    return names, sources


def _failures(report: dict[str, Any]) -> list[str]:
    codes: list[str] = []
    for status in report.get("validation_status") or []:
        codes.append(str(status.get("code")))
    results = report.get("validation_results") or {}
    for key in ("activeManifest",):
        for status in (results.get(key) or {}).get("failure") or []:
            code = str(status.get("code"))
            if code not in codes:
                codes.append(code)
    return codes


def read_manifest(path: Path, media_type: str, trust_anchors_pem: str | None) -> C2paInfo | None:
    """The active manifest as ``C2paInfo``, or None when there is none (or the format has none)."""
    if media_type not in SUPPORTED:
        return None
    settings: dict[str, Any] = {"verify": {"verify_trust": bool(trust_anchors_pem)}}
    if trust_anchors_pem:
        settings["trust"] = {"user_anchors": trust_anchors_pem}
    try:
        context = c2pa.Context(c2pa.Settings.from_dict(settings))
        with path.open("rb") as stream:
            reader = c2pa.Reader(media_type, stream, context=context)
            try:
                report = json.loads(reader.json())
            finally:
                reader.close()
    except c2pa.C2paError.ManifestNotFound:
        return None
    except c2pa.C2paError.NotSupported:
        return None
    except c2pa.C2paError as error:
        log.info("C2PA manifest of %s unreadable: %s", path.name, error)
        return C2paInfo(
            state="Invalid",
            signer=None,
            claim_generator=None,
            digital_source_types=(),
            actions=(),
            failure_codes=(type(error).__name__,),
        )
    active = (report.get("manifests") or {}).get(report.get("active_manifest") or "") or {}
    names, sources = _actions(active)
    signature = active.get("signature_info") or {}
    generator_info = active.get("claim_generator_info") or []
    claim_generator = active.get("claim_generator") or (
        generator_info[0].get("name") if generator_info and isinstance(generator_info[0], dict) else None
    )
    vendor = {
        str(a.get("label")): a.get("data")
        for a in active.get("assertions") or []
        if not str(a.get("label", "")).startswith(("c2pa.", "stds."))
    }
    state = str(report.get("validation_state") or ("Invalid" if _failures(report) else "Valid"))
    return C2paInfo(
        state=state,
        signer=signature.get("issuer") or signature.get("common_name"),
        claim_generator=claim_generator,
        digital_source_types=tuple(sources),
        actions=tuple(names),
        failure_codes=tuple(_failures(report)),
        vendor_assertions=vendor,
        signed_at=signature.get("time"),
    )


async def read_c2pa(path: Path, media_type: str, trust_anchors_pem: str | None) -> C2paInfo | None:
    """``read_manifest`` off the event loop."""
    return await asyncio.to_thread(read_manifest, path, media_type, trust_anchors_pem)
