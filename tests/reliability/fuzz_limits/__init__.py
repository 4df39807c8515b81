"""Explicit hostile values (issue 7 item 4): negative, zero and huge numbers in every integer
field of every request, undefined enum values, repeated fields past their limits, NUL bytes
in every string field, and a signing key no one possesses.

Each case starts from a request that is valid in the prepared world, changes one thing, and
checks the exact refusal (or acceptance), never INTERNAL or UNKNOWN, and that a refusal
writes nothing. The integer and enum fields are found in the descriptors, so a new field
fails `test_every_integer_field_has_an_expectation` until someone says what it must get."""
