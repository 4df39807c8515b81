"""Random quotes, transfers, confirmations, rejections, timeouts and reversals on the fakes.

After every step the ledger balances and matches its counters and each transfer's state
(invariants 1-3), each transfer has resolved at most once, a used quote never starts a second
transfer (invariant 4), and the member, whose points at both brands the test keeps the way the
two loyalty programs would, never holds more value than they started with, bonuses apart
(invariant 5: rounding never creates points, a round trip never gains).
"""
