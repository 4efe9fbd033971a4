"""harness: async-native integration tests on real PostgreSQL, RabbitMQ, MongoDB and Redis.

The public API is what this module exports; everything else is private and may change.
"""

from __future__ import annotations

from ._accessors import mongo, postgres, rabbitmq, redis
from ._clients import app_client
from ._env import override_env
from ._exceptions import (
    BackendUnavailableError,
    CleanupTimeoutError,
    EnvFileError,
    HarnessError,
    MigrationError,
    ResourceNotStartedError,
    ServerDiedError,
    ServerStartError,
)
from ._seeding import Seed, seed, seeded
from ._waiting import eventually

__all__ = [
    "BackendUnavailableError",
    "CleanupTimeoutError",
    "EnvFileError",
    "HarnessError",
    "MigrationError",
    "ResourceNotStartedError",
    "Seed",
    "ServerDiedError",
    "ServerStartError",
    "app_client",
    "eventually",
    "mongo",
    "override_env",
    "postgres",
    "rabbitmq",
    "redis",
    "seed",
    "seeded",
]
