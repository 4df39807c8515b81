"""Tier ladder, recognition agreement, tier report and status-match handlers, with the fakes."""
