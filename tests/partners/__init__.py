"""Partner-side tests: the SDK's event checks and the reference programs' stores, with no hub."""
