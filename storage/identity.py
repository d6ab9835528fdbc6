"""The instance's Ed25519 key pair, created on first start and kept in the data directory.

The instance id is derived from the public key, so a peer can check that an entry signed
with a key really is from the instance that names itself.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from core.model import InstanceId

log = logging.getLogger(__name__)

KEY_FILE = "instance_ed25519.pem"


def instance_id_for(public_key: bytes) -> InstanceId:
    """``wp-`` + base32 of the first 10 bytes of sha256(public key)."""
    digest = hashlib.sha256(public_key).digest()[:10]
    return InstanceId("wp-" + base64.b32encode(digest).decode("ascii").lower())


def public_key_b64(public_key: bytes) -> str:
    """Unpadded standard base64, as Matrix writes keys."""
    return base64.b64encode(public_key).decode("ascii").rstrip("=")


def verify_signature(public_key_b64u: str, signature_b64: str, message: bytes) -> bool:
    """True when ``signature`` is the key's Ed25519 signature of ``message``."""
    try:
        raw_key = base64.b64decode(public_key_b64u + "=" * (-len(public_key_b64u) % 4))
        signature = base64.b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))
        Ed25519PublicKey.from_public_bytes(raw_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Identity:
    """This instance's key pair and the id derived from it."""

    private_key: Ed25519PrivateKey
    public_key: bytes

    @property
    def instance_id(self) -> InstanceId:
        """The id peers know this instance by."""
        return instance_id_for(self.public_key)

    @property
    def public_key_b64(self) -> str:
        """The public key as unpadded base64."""
        return public_key_b64(self.public_key)

    def sign(self, message: bytes) -> str:
        """Unpadded base64 Ed25519 signature of ``message``."""
        return base64.b64encode(self.private_key.sign(message)).decode("ascii").rstrip("=")


def load_or_create_identity(data_dir: Path) -> Identity:
    """Read the key from ``data_dir``, creating it (mode 0600) on first start."""
    path = data_dir / KEY_FILE
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        log.info("created instance key %s", path)
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return Identity(key, public)
