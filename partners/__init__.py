"""Partner-side code: the SDK partners integrate with, and reference partner programs."""
