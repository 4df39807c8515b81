"""Settlement exports: exact bytes, determinism, currency exponents and a schema-valid pain.001."""
