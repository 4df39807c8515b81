"""Unit tests: handlers and wire rules driven with in-memory fakes, no I/O."""
