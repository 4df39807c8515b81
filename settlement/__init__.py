"""Nightly settlement: netting, verifiable statements, payment files and reconciliation."""
