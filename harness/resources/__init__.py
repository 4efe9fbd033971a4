"""The kinds of infrastructure the harness provides, and the API to add one of your own.

A kind is a :class:`Resource` subclass, made known with :func:`register` (in a root
``conftest.py``, or a plugin module, before pytest configures; the ``harness`` command imports
the root ``conftest.py`` too). It then gets what the built-in four have: the fixtures
``<name>_url`` and ``<name>``, its client through :meth:`Resource.client`, the ``local`` /
``docker`` / ``external`` backends it implements, a namespace per session and xdist worker,
reuse, reaping, the leak check (if it opens a :class:`LeakCounter`) and its lines in ``harness
doctor``. The guide's "Adding a new kind of resource" walks through a complete one, Memcached.

.. code-block:: python

    from harness.resources import Resource, register

    class MemcachedResource(Resource):
        name = "memcached"
        ...

    register(MemcachedResource())
"""

from __future__ import annotations

from .._config import HarnessConfig
from .._urls import address, redact, with_path
from ._base import (
    Client,
    CommandRunner,
    LaunchSpec,
    LeakCounter,
    Resource,
    Server,
    testcontainers_class,
)
from ._registry import REGISTRY, register, unregister
from .mongo import MongoResource
from .postgres import PostgresResource
from .rabbitmq import RabbitMQResource
from .redis import RedisResource

__all__ = [
    "REGISTRY",
    "Client",
    "CommandRunner",
    "HarnessConfig",
    "LaunchSpec",
    "LeakCounter",
    "MongoResource",
    "PostgresResource",
    "RabbitMQResource",
    "RedisResource",
    "Resource",
    "Server",
    "address",
    "redact",
    "register",
    "testcontainers_class",
    "unregister",
    "with_path",
]

# RabbitMQ first: it is the slowest to start, so it gets going before the others.
for _resource in (RabbitMQResource(), PostgresResource(), MongoResource(), RedisResource()):
    register(_resource)
