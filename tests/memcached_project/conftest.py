"""The project's root conftest.py: registering the kind is all it takes (before pytest
configures, so the plugin makes its fixtures; the harness command imports this file too)."""

from __future__ import annotations

# --8<-- [start:register]
from memcached_kind import MEMCACHED

from harness.resources import register

register(MEMCACHED)
# --8<-- [end:register]
