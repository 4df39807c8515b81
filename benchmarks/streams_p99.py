"""Unary latency with 1,000 streams open is now measured by `coalition bench` (`make bench`).

Its two stages, `hub_unary_no_streams` and `hub_unary_streams_open`, time one partner's signed
GetHubKeys calls against the hub in its own process on PostgreSQL, with no stream open and
then with 1,000 Subscribe streams held by ten other partners (exchange/bench/streams.py;
docs/benchmarks.md). `add_partners` stays importable from here.
"""

from __future__ import annotations

from exchange.bench.streams import STREAMING_PARTNERS, STREAMS_EACH, add_partners

__all__ = ["STREAMING_PARTNERS", "STREAMS_EACH", "add_partners"]


def main() -> None:
    raise SystemExit(
        "benchmarks.streams_p99 is now two stages of `make bench` (hub_unary_no_streams, "
        "hub_unary_streams_open); see docs/benchmarks.md"
    )


if __name__ == "__main__":
    main()
