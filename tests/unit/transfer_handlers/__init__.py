"""Quote, transfer, confirm, reject, timeout and reversal handlers, run on the in-memory fakes."""
