"""harness: async-native integration tests on real PostgreSQL, RabbitMQ, MongoDB and Redis.

The public API is what this module exports, plus :mod:`harness.resources` (the API to add a
kind of server); everything else is private and may change. Client libraries are imported when
their resource is used, not here; and the modules behind these names when a name is first used
(``from harness import seeded`` imports the seeding module alone), so a pytest run that loads the
plugin but never uses the API (unit tests beside integration tests) does not pay for it.
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

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

if _typing.TYPE_CHECKING:
    from ._accessors import mongo, postgres, rabbitmq, rabbitmq_connection, redis
    from ._app_client import app_client
    from ._env import override_env
    from ._messaging import Inbox, Message, listen, publish
    from ._migration_checks import assert_round_trip, assert_single_head
    from ._ready_seeds import mongo_document, postgres_row, rabbitmq_queue, redis_key
    from ._seeding import Seed, seed, seeded
    from ._waiting import eventually

_LAZY: dict[str, str] = {
    "Inbox": "._messaging",
    "Message": "._messaging",
    "Seed": "._seeding",
    "app_client": "._app_client",
    "assert_round_trip": "._migration_checks",
    "assert_single_head": "._migration_checks",
    "eventually": "._waiting",
    "listen": "._messaging",
    "mongo": "._accessors",
    "mongo_document": "._ready_seeds",
    "override_env": "._env",
    "postgres": "._accessors",
    "postgres_row": "._ready_seeds",
    "publish": "._messaging",
    "rabbitmq": "._accessors",
    "rabbitmq_connection": "._accessors",
    "rabbitmq_queue": "._ready_seeds",
    "redis": "._accessors",
    "redis_key": "._ready_seeds",
    "seed": "._seeding",
    "seeded": "._seeding",
}
"""Public name -> the private module that defines it, imported on first use."""

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


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module, __name__), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
