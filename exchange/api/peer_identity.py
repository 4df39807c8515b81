"""Derive the calling partner's id from the mTLS client certificate of a gRPC call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cryptography import x509

PARTNER_URI_PREFIX = "spiffe://coalition/partner/"

# grpcio puts the verified peer leaf certificate here (PEM, one entry) when the
# server uses ssl_server_credentials and the client presented a certificate.
_PEER_CERT_KEY = "x509_pem_cert"


def partner_id_from_auth_context(auth_context: Mapping[str, Sequence[bytes]]) -> str | None:
    """Return <id> from the cert's single URI SAN spiffe://coalition/partner/<id>, else None.

    None means: no client certificate, no partner URI SAN, several partner URI SANs
    (ambiguous, so refuse to guess), an empty id or one with further path segments,
    or a certificate that does not parse.
    The SAN is read from the parsed certificate rather than grpc's string SAN lists, so
    an identity can only come from the URI-typed SAN entries the CA actually signed.
    """
    pems = auth_context.get(_PEER_CERT_KEY)
    if not pems or len(pems) != 1:
        return None
    try:
        cert = x509.load_pem_x509_certificate(pems[0])
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    except Exception:
        # Deliberately broad: besides ValueError for bad PEM/DER, cryptography raises
        # ExtensionNotFound, DuplicateExtension and UnsupportedGeneralNameType (none of
        # them ValueErrors), and the set varies by version. Any of them means no identity.
        return None
    ids = [
        uri.removeprefix(PARTNER_URI_PREFIX) for uri in uris if uri.startswith(PARTNER_URI_PREFIX)
    ]
    # An id is one non-empty path segment; ".../partner/a/b" is not partner "a/b".
    if len(ids) != 1 or not ids[0] or "/" in ids[0]:
        return None
    return ids[0]
