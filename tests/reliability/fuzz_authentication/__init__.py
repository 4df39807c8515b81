"""Hostile input at the door, without a server (issue 7 item 4): the signed-header parser, the
freshness check, the request verifier, the message parser and the Ed25519 check.

Whatever they are given, they answer or refuse with their documented exception
(AuthenticationFailure; a DomainError for a body that is no message); anything else would
reach the pipeline's catch-all and come back as INTERNAL."""
