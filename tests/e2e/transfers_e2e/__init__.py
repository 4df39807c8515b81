"""Points transfers end to end: the real hub, the partner SDK and the reference programs.

Completion, rejection and refund, timeouts, reversals, quote expiry, daily caps, increments
and minimums, bonus windows and agreement versions (DESIGN §3.3, §3.4). After every test the
hub's ledger checks clean (§5, §7 inv. 1-3), and each member's balances at every brand follow
the hub's own record of what completed: points that left a source either arrived once at the
destination or came back."""
