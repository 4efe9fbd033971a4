"""Per-test timeout and leak check (pytest plugin module; being written)."""
