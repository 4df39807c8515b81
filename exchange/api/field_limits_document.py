"""docs/field-limits.md, written from the one table of limits in exchange/api/field_limits.py."""

from __future__ import annotations

from exchange.api.field_limits import LIMITS, Binary, Limit, Repeated, request_messages


def describe(limit: Limit) -> str:
    if isinstance(limit, Repeated):
        count = f"{limit.items_min}-{limit.items_max:,} items"
        return count if limit.item is None else f"{count}; each {describe(limit.item)}"
    if isinstance(limit, Binary):
        size = (
            f"{limit.bytes_max} bytes"
            if limit.bytes_min == limit.bytes_max
            else (f"at most {limit.bytes_max} bytes")
        )
        return f"{size}: {limit.meaning}"
    rules = [f"at most {limit.chars_max} characters", limit.meaning]
    if limit.printable:
        rules.append("printable characters only")
    rules.append("required" if limit.required else "may be empty")
    return "; ".join(rules)


def document() -> str:
    """docs/field-limits.md, from the table."""
    lines = [
        "# Field limits",
        "",
        "Generated from `exchange/api/field_limits.py`",
        "(`python -m exchange.api.field_limits_document`); a test fails when the two differ.",
        "Every string, bytes and repeated field of every request is listed. The hub checks",
        "them all before anything else happens and answers `INVALID_ARGUMENT` with one",
        "`google.rpc.BadRequest` field violation per bad field,",
        "named by its path (e.g. `entries[3].transfer.ppid`). Strings count characters (Unicode",
        "code points); a pattern must match the whole value; no string may hold a NUL character,",
        "and strings must be valid UTF-8. Integer fields are checked by each RPC's own rules",
        "(docs/protocol.md).",
        "",
        "| message | field | limit |",
        "| --- | --- | --- |",
    ]
    for descriptor in request_messages():
        entries = LIMITS.get(descriptor.full_name, {})
        for field in descriptor.fields:
            if field.name in entries:
                limit = describe(entries[field.name])
                lines.append(f"| `{descriptor.name}` | `{field.name}` | {limit} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(document(), end="")
