"""Benchmarks: speed is measured, not asserted.

Each module here runs on its own (``python -m benchmarks.<name>``), prints its figures and
writes them to ``bench-results/``. Nothing here is collected by pytest and nothing here fails
because a number is slow; the tests prove behaviour, the benchmarks report cost.
"""
