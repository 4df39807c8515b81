"""Every log record the hub and SDK write while a block runs, for privacy scans."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


class CollectingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def every_log_record() -> Iterator[CollectingHandler]:
    """Every record at DEBUG and above, from every thread and logger, while the block runs."""
    root = logging.getLogger()
    handler, level = CollectingHandler(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
