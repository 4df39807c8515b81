"""Reference partner programs: small loyalty back ends that talk to the hub only through the SDK."""
