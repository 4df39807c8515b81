"""Crash recovery (issue 7, item 1): the hub, a real process on PostgreSQL, is killed with
SIGKILL at random moments many times while three partner processes move points; after the
last restart everything drains, and then:

- every transfer the hub accepted is in exactly one final state, with exactly the events that
  state implies, and the source program's record of it agrees with the hub (DESIGN §3.4, §7.3);
- every event of every feed was applied exactly once by its program (§3.6);
- every member's points at every brand are the opening balance moved by exactly the hub's
  completed transfers: nothing lost, nothing credited or refunded twice;
- `coalition check` passes (§5, §7.1-2), and settling the day nets to zero (§3.7, §7.6).

The whole scenario runs twice: against one hub process, and against two sharing the port
(`coalition serve` with COALITION_PROCESSES=2), where besides SIGKILLs of the whole hub single
workers are SIGKILLed while the other serves, and clients retrying on the same keys reach the
survivor. Each run (a module fixture, about two minutes) feeds every test. COALITION_CRASH_SEED
replays a run's random choices; the timing of kills against requests differs run to run.
The last test is the regression test of an SDK defect the runs exposed: each hub crash grew
the feed consumer's reconnect backoff for the rest of the partner's life."""
