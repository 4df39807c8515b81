"""The Coalition Exchange hub."""
