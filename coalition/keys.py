"""Ed25519 key files and signatures, the same for the hub, the operator CLI and the SDK."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from coalition.wire import PUBLIC_KEY_BYTES, SIGNATURE_BYTES, key_id_for

PRIVATE_KEY_FILE = "signing.key"
PUBLIC_KEY_FILE = "signing.pub"
PRIVATE_KEY_FILE_MODE = 0o600


@dataclass(frozen=True)
class SigningKey:
    """A private key with its derived id; the key material never appears in repr."""

    private_key: Ed25519PrivateKey = field(repr=False)
    key_id: str

    @classmethod
    def generate(cls) -> SigningKey:
        return cls.from_private_key(Ed25519PrivateKey.generate())

    @classmethod
    def from_private_key(cls, private_key: Ed25519PrivateKey) -> SigningKey:
        return cls(private_key, key_id_for(raw_public_key(private_key.public_key())))

    @property
    def public_key_bytes(self) -> bytes:
        return raw_public_key(self.private_key.public_key())

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# The Ed25519 points of order 1, 2, 4 and 8, as libsodium lists them (the sign bit of the
# last byte masked off, so each stands for two encodings). A signature "by" such a key can be
# made without any private key, e.g. the identity point verifies (identity || 0) over any
# message: such a key must never be registered, nor verify anything.
_SMALL_ORDER_POINTS = frozenset(
    bytes.fromhex(point)
    for point in (
        "00" * 32,
        "01" + "00" * 31,
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "ec" + "ff" * 30 + "7f",
        "ed" + "ff" * 30 + "7f",
        "ee" + "ff" * 30 + "7f",
    )
)


def is_small_order(public_key: bytes) -> bool:
    """True for the encodings of the small-order points: keys no one holds a secret for."""
    if len(public_key) != PUBLIC_KEY_BYTES:
        return False
    return public_key[:31] + bytes([public_key[31] & 0x7F]) in _SMALL_ORDER_POINTS


def verify_signature(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """True only for a well-formed Ed25519 signature by `public_key` over `message`."""
    if len(public_key) != PUBLIC_KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    if is_small_order(public_key):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def write_key_pair(directory: Path, key: SigningKey) -> tuple[Path, Path]:
    """Writes `signing.key` (PKCS#8 PEM, owner-only) and `signing.pub` (SPKI PEM)."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path, public_path = directory / PRIVATE_KEY_FILE, directory / PUBLIC_KEY_FILE
    if private_path.exists() or public_path.exists():
        raise FileExistsError(f"a key pair already exists in {directory}")
    private_pem = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_KEY_FILE_MODE)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private_pem)
    public_path.write_bytes(
        key.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private_path, public_path


def load_signing_key(path: Path) -> SigningKey:
    """Loads a private key file; raises ValueError if it is not an Ed25519 PEM key."""
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return SigningKey.from_private_key(loaded)


def load_public_key(path: Path) -> bytes:
    """Loads a public key file (PEM) and returns its 32 raw bytes."""
    loaded = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(loaded, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return raw_public_key(loaded)
