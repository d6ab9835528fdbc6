"""Content identifiers: CIDv1, raw codec, sha2-256 multihash, base32 (``bafkrei…``).

The CID is computed while bytes stream past (``CidHasher``), so a blob is never read twice
to learn its address. ``parse_cid`` accepts only the form this module makes, so a path
derived from a CID can never escape the pool folder.
"""

from __future__ import annotations

import base64
import hashlib
import re

from core.errors import UsageError
from core.model import Cid

_PREFIX = bytes([0x01, 0x55, 0x12, 0x20])  # CIDv1, raw, sha2-256, 32 bytes
_CID_RE = re.compile(r"^b[a-z2-7]{58}$")


def cid_from_digest(digest: bytes) -> Cid:
    """The CID of a sha2-256 digest."""
    if len(digest) != 32:
        raise ValueError("a sha2-256 digest has 32 bytes")
    encoded = base64.b32encode(_PREFIX + digest).decode("ascii").lower().rstrip("=")
    return Cid("b" + encoded)


def cid_of(data: bytes) -> Cid:
    """The CID of some bytes."""
    return cid_from_digest(hashlib.sha256(data).digest())


def digest_of(cid: Cid) -> bytes:
    """The sha2-256 digest inside a CID."""
    raw = base64.b32decode(cid[1:].upper() + "=" * (-len(cid[1:]) % 8))
    return raw[len(_PREFIX) :]


def is_cid(text: str) -> bool:
    """True for a well-formed raw sha2-256 CIDv1 in base32."""
    if not _CID_RE.match(text) or not text.startswith("bafkrei"):
        return False
    try:
        raw = base64.b32decode(text[1:].upper() + "=" * (-len(text[1:]) % 8))
    except ValueError:
        return False
    # base32 of 36 bytes leaves 2 spare bits in the last digit: only the spelling with those
    # bits zero is the address, so one blob never has two names (two pool files, two rows).
    return raw[:4] == _PREFIX and len(raw) == 36 and cid_from_digest(raw[4:]) == text


def parse_cid(text: str) -> Cid:
    """``text`` as a CID, or UsageError saying what a CID looks like."""
    text = text.strip()
    if not is_cid(text):
        raise UsageError(f"'{text[:80]}' is not a pool address (a CID like bafkrei…)")
    return Cid(text)


class CidHasher:
    """Feeds chunks, then tells the CID and the number of bytes seen."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.size = 0

    def update(self, chunk: bytes) -> None:
        """Add the next bytes."""
        self._hash.update(chunk)
        self.size += len(chunk)

    def cid(self) -> Cid:
        """The CID of everything fed so far."""
        return cid_from_digest(self._hash.digest())
