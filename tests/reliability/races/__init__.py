"""Races, round after round (issue 7 item 3; DESIGN §3.4, §3.7, §4.2, §7 inv. 3, 4, 6, 7).

tests/test_transfer_concurrency.py and tests/test_settlement_races.py each run one burst of a
race; here every race runs for many rounds, with jitter, so the interleavings vary, and the
races they leave out are added: one idempotency key carrying two different requests at once;
confirm, reject and the timeout (the clock passing it, then the sweeper) on one transfer at
once; ConfirmCredits batches in those races; one batch entry's key in two batches (or a batch
and a lone CreateTransfer) at once; closing a day early, twice at once, while its transfers
complete and void; and the cut-off passing while transfers complete, with two settlers.
Whatever the interleaving, each thing resolves exactly once. Run on SQLite and PostgreSQL
(where the calls really interleave)."""
