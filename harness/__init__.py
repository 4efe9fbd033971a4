"""harness: async-native integration tests on real PostgreSQL, RabbitMQ, MongoDB and Redis."""

from __future__ import annotations

# -- the test-writing API ---------------------------------------------------------------------
from ._seeding import Seed, seed, seeded

__all__ = [
    "Seed",
    "seed",
    "seeded",
]
