"""Shared wire protocol of Coalition Exchange: generated API messages and signing rules."""
