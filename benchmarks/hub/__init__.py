"""`coalition bench`: the hub against the machine's own limits, and seeding for load tests."""
