"""The hub's domain model: rules and ports, standard library only."""
