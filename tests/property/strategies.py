"""Hypothesis strategies shared by the property tests: JSON as Matrix carries it, and mutations."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from core.federation.manifest import canonical_json

_CHECKS = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
# Bounded and deterministic in CI (a failure reproduces from the command alone);
# WAVEPOOL_PROPERTIES=long explores more, with fresh random inputs each run. Applied per
# test, so other suites' Hypothesis settings are left alone.
PROPERTY_SETTINGS = (
    settings(max_examples=1500, deadline=None, database=None, suppress_health_check=_CHECKS)
    if os.environ.get("WAVEPOOL_PROPERTIES") == "long"
    else settings(
        max_examples=60,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=_CHECKS,
    )
)

# Matrix canonical JSON: integers within +-2**53, no floats on the wire.
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**53) + 1, 2**53 - 1), st.text(max_size=20))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=16,
)
documents = st.dictionaries(st.text(max_size=10).filter(lambda k: k != "signature"), json_values, max_size=8)


def different_value(data: st.DataObject, value: Any) -> Any:
    """A JSON value whose canonical form differs from ``value``'s, changed somewhere inside."""
    if isinstance(value, dict) and value and data.draw(st.booleans(), label="descend"):
        key = data.draw(st.sampled_from(sorted(value)), label="key")
        return {**value, key: different_value(data, value[key])}
    if isinstance(value, list) and value and data.draw(st.booleans(), label="descend"):
        index = data.draw(st.integers(0, len(value) - 1), label="index")
        return [*value[:index], different_value(data, value[index]), *value[index + 1 :]]
    before = canonical_json(value)
    return data.draw(json_values.filter(lambda v: canonical_json(v) != before), label="replacement")


def mutated_document(data: st.DataObject, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (signature kept) with one field changed, added or removed."""
    body = {k: v for k, v in document.items() if k != "signature"}
    how = data.draw(st.sampled_from(["change", "add", "remove"] if body else ["add"]), label="how")
    if how == "change":
        key = data.draw(st.sampled_from(sorted(body)), label="field")
        body[key] = different_value(data, body[key])
    elif how == "add":
        key = data.draw(st.text(max_size=10).filter(lambda k: k not in body and k != "signature"), label="new")
        body[key] = data.draw(json_values, label="new value")
    else:
        del body[data.draw(st.sampled_from(sorted(body)), label="removed")]
    return {**body, "signature": document["signature"]}
