"""Service handlers: each takes a command, decides, and works through a unit of work."""
