"""Adapters that implement the domain ports: SQL storage, clocks."""
