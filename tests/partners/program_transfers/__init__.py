"""A program's side of transfers with an in-process fake hub: each transfer event lands once,
refunds follow voids, and every retry to the hub reuses the idempotency key it was queued with."""
