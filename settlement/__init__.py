"""Nightly settlement: netting, statements and payment files (built with the settlement issue)."""
