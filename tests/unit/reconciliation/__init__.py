"""Reconciliation (DESIGN §3.8): matching, the partner's upload format, and properties."""
