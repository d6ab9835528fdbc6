"""A test PKI (root → intermediate → leaf) and C2PA signing of audio files."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

AI = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
RECORDED = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"


@dataclass(frozen=True)
class Pki:
    """PEMs of a chain; ``root_pem`` is what an operator would trust."""

    root_pem: str
    chain_pem: str  # leaf + intermediate
    key_pem: str


def _name(cn: str, org: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)])


def _cert(
    subject: x509.Name,
    issuer: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    signer: ec.EllipticCurvePrivateKey,
    ca: bool,
    issuer_key: ec.EllipticCurvePrivateKey,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
    return builder.sign(signer, hashes.SHA256())


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def make_pki(org: str = "Test Generator Inc") -> Pki:
    """A fresh root, intermediate and leaf (EC P-256; leaf for document signing)."""
    root_key, mid_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root_name, mid_name = _name("Test Root CA", org), _name("Test Intermediate CA", org)
    root = _cert(root_name, root_name, root_key, root_key, True, root_key)
    mid = _cert(mid_name, root_name, mid_key, root_key, True, root_key)
    leaf = _cert(_name("Test Signer", org), mid_name, leaf_key, mid_key, False, mid_key)
    key_pem = leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return Pki(root_pem=_pem(root), chain_pem=_pem(leaf) + _pem(mid), key_pem=key_pem)


def sign_audio(
    src: Path,
    dst: Path,
    mime: str,
    pki: Pki,
    source_type: str = AI,
    vendor: dict[str, Any] | None = None,
    generator: str = "TestGen/1.0",
) -> Path:
    """Sign ``src`` into ``dst`` with a ``c2pa.created`` action of ``source_type``."""
    assertions: list[dict[str, Any]] = [
        {
            "label": "c2pa.actions.v2",
            "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": source_type}]},
        }
    ]
    if vendor:
        assertions.append({"label": "com.testgen.provenance", "data": vendor})
    manifest = {
        "claim_generator_info": [{"name": generator, "version": "1.0"}],
        "title": dst.name,
        "format": mime,
        "assertions": assertions,
    }
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, pki.chain_pem.encode(), pki.key_pem.encode(), None)
    )
    builder = c2pa.Builder(manifest)
    with src.open("rb") as source, dst.open("w+b") as dest:
        builder.sign(signer, mime, source, dest)
    return dst
