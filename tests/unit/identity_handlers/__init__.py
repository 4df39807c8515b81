"""Enrolment, link codes, links, unlinking and erasure handlers, driven with the in-memory fakes."""
