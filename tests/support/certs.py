"""Throwaway PKI (CA, server and partner client certificates) for mTLS tests."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from exchange.api.peer_identity import PARTNER_URI_PREFIX

# EC P-256 keys: universally accepted by grpc's BoringSSL for TLS 1.2 and 1.3.
_CURVE = ec.SECP256R1()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _leaf_builder(
    subject: str,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
) -> x509.CertificateBuilder:
    # Back-date by an hour so small clock skew between test processes is harmless.
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )


@dataclass(frozen=True)
class Pki:
    """A CA plus a server certificate for localhost / 127.0.0.1, all PEM-encoded."""

    ca_cert_pem: bytes
    server_cert_pem: bytes
    server_key_pem: bytes
    # Kept so tests can mint client certs; hidden from repr to keep test output clean.
    ca_key: ec.EllipticCurvePrivateKey = field(repr=False)

    def client_cert(self, partner_id: str) -> tuple[bytes, bytes]:
        """Return (cert PEM, key PEM) for a partner, URI SAN spiffe://coalition/partner/<id>."""
        return self.client_cert_with_uris([PARTNER_URI_PREFIX + partner_id])

    def client_cert_with_uris(self, uris: list[str]) -> tuple[bytes, bytes]:
        """Return (cert PEM, key PEM) for a client cert with exactly these URI SANs (maybe none)."""
        ca_cert = x509.load_pem_x509_certificate(self.ca_cert_pem)
        key = ec.generate_private_key(_CURVE)
        builder = _leaf_builder("partner-client", ca_cert.subject, key.public_key()).add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        if uris:
            san = x509.SubjectAlternativeName([x509.UniformResourceIdentifier(u) for u in uris])
            builder = builder.add_extension(san, critical=False)
        cert = builder.sign(self.ca_key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def make_pki() -> Pki:
    """Build a fresh self-signed CA and a server cert; call twice for two unrelated CAs."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(_CURVE)
    ca_name = _name("coalition-test-ca")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(_CURVE)
    server_cert = (
        _leaf_builder("localhost", ca_name, server_key.public_key())
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return Pki(
        ca_cert_pem=ca_cert.public_bytes(serialization.Encoding.PEM),
        server_cert_pem=server_cert.public_bytes(serialization.Encoding.PEM),
        server_key_pem=_key_pem(server_key),
        ca_key=ca_key,
    )
