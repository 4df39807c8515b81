"""Partner outages (issue 7 item 2; DESIGN §3.4, §3.6, §7 inv. 1-3), on SQLite and PostgreSQL.

The reference programs on a real hub: skyway and orbit send fifty transfers to harbor while
harbor is offline for hours (its feed piles up, it calls nothing). Offline past the transfer
timeout, every credit is voided, every source member refunded exactly once, and harbor, back
online, must not keep a single credit it applied. Back before the timeout, even with the hub
restarted in between, every credit is delivered exactly once and every balance adds up."""
