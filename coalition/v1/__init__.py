"""Generated protobuf messages of the coalition.v1 API (do not edit)."""
