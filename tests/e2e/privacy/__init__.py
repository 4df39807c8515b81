"""Privacy, end to end (DESIGN §3.2, §7 inv. 8): the real demo runs against a real hub, then
every hub table, every response and event each partner received, and every log line are
searched for member numbers, e-mail addresses and names, and for other partners' ppids.

The searches are plain functions, tested first on planted data so that a clean result means
something.
"""
