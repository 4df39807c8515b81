"""End-to-end tests: partner programs in other languages against a real hub process."""
