"""Coalition Exchange test suite."""
