"""Partner directory and key rotation handlers, driven with the in-memory unit of work."""
