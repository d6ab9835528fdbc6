"""Pool addresses: CIDs round-trip, and any text is either a canonical CID or a UsageError."""

from __future__ import annotations

import base64
import hashlib
import string

from hypothesis import example, given
from hypothesis import strategies as st

from core.cid import CidHasher, cid_from_digest, cid_of, digest_of, is_cid, parse_cid
from core.errors import UsageError
from tests.property.strategies import PROPERTY_SETTINGS

BASE32 = string.ascii_lowercase + "234567"
cid_like = st.builds(lambda tail: "bafkrei" + tail, st.text(BASE32, min_size=50, max_size=54))


@PROPERTY_SETTINGS
@given(st.binary(max_size=4096))
def test_cid_of_bytes_is_a_valid_address_of_their_sha256(data: bytes) -> None:
    cid = cid_of(data)
    assert is_cid(cid) and parse_cid(cid) == cid
    assert digest_of(cid) == hashlib.sha256(data).digest()


@PROPERTY_SETTINGS
@given(st.binary(min_size=32, max_size=32))
def test_digest_round_trips(digest: bytes) -> None:
    assert digest_of(cid_from_digest(digest)) == digest


@PROPERTY_SETTINGS
@given(st.lists(st.binary(max_size=300), max_size=12))
def test_streamed_hash_equals_whole_hash(chunks: list[bytes]) -> None:
    hasher = CidHasher()
    for chunk in chunks:
        hasher.update(chunk)
    assert hasher.cid() == cid_of(b"".join(chunks)) and hasher.size == sum(map(len, chunks))


@PROPERTY_SETTINGS
@given(
    st.one_of(
        st.text(max_size=80),
        cid_like,
        st.builds(
            lambda c, pad: pad + c + pad,
            st.binary(min_size=32, max_size=32).map(cid_from_digest),
            st.sampled_from(["", " ", "\n"]),
        ),
    )
)
@example(cid_of(b"x")[:-1] + "7")  # the last base32 digit carries 2 padding bits
@example("bafkrei" + "a" * 52)
def test_any_text_is_a_canonical_cid_or_a_usage_error(text: str) -> None:
    try:
        cid = parse_cid(text)
    except UsageError as error:
        assert "not a pool address" in str(error)
        return
    # Accepted: a file name inside the pool can be derived from it, and it is the one
    # spelling of its digest (two spellings of one blob would be two pool entries).
    assert len(cid) == 59 and set(cid) <= set(BASE32)
    assert cid_from_digest(digest_of(cid)) == cid
    raw = base64.b32decode(cid[1:].upper() + "=" * (-len(cid[1:]) % 8))
    assert raw[:4] == bytes([0x01, 0x55, 0x12, 0x20])


@PROPERTY_SETTINGS
@given(st.binary(max_size=64), st.integers(min_value=1, max_value=58), st.sampled_from(BASE32))
def test_changing_one_digit_never_yields_the_same_digest(data: bytes, position: int, digit: str) -> None:
    cid = cid_of(data)
    changed = cid[:position] + digit + cid[position + 1 :]
    if changed == cid or not is_cid(changed):
        return
    assert digest_of(changed) != digest_of(cid)
