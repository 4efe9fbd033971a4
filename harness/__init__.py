"""harness: async-native integration tests on real PostgreSQL, RabbitMQ, MongoDB and Redis.

The public API is what this module exports, plus :mod:`harness.resources` (the API to add a
kind of server); everything else is private and may change. Client libraries are imported when
their resource is used, not here.
"""

from __future__ import annotations

from ._accessors import mongo, postgres, rabbitmq, rabbitmq_connection, redis
from ._app_client import app_client
from ._env import override_env
from ._exceptions import (
    BackendUnavailableError,
    CleanupTimeoutError,
    EnvFileError,
    HarnessError,
    LeakError,
    LeakWarning,
    LifespanError,
    MessageNotReceivedError,
    MigrationError,
    ResourceNotStartedError,
    ServerDiedError,
    ServerStartError,
    TimeLimitExceededError,
    UnexpectedMessageError,
)
from ._messaging import Inbox, Message, listen, publish
from ._migration_checks import assert_round_trip, assert_single_head
from ._ready_seeds import mongo_document, postgres_row, rabbitmq_queue, redis_key
from ._seeding import Seed, seed, seeded
from ._waiting import eventually

__all__ = [
    "BackendUnavailableError",
    "CleanupTimeoutError",
    "EnvFileError",
    "HarnessError",
    "Inbox",
    "LeakError",
    "LeakWarning",
    "LifespanError",
    "Message",
    "MessageNotReceivedError",
    "MigrationError",
    "ResourceNotStartedError",
    "Seed",
    "ServerDiedError",
    "ServerStartError",
    "TimeLimitExceededError",
    "UnexpectedMessageError",
    "app_client",
    "assert_round_trip",
    "assert_single_head",
    "eventually",
    "listen",
    "mongo",
    "mongo_document",
    "override_env",
    "postgres",
    "postgres_row",
    "publish",
    "rabbitmq",
    "rabbitmq_connection",
    "rabbitmq_queue",
    "redis",
    "redis_key",
    "seed",
    "seeded",
]
