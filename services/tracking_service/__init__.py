"""Courier tracking: consumes location events into MongoDB (history) and Redis (latest)."""
