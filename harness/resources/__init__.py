"""The kinds of infrastructure the harness provides, one module each, registered by name.

Adding a kind is one module with a :class:`Resource` subclass plus one :func:`register` call.
"""

from __future__ import annotations

from ._base import Client, LaunchSpec, Resource, Server
from .mongo import MongoResource
from .postgres import PostgresResource
from .rabbitmq import RabbitMQResource
from .redis import RedisResource

__all__ = ["REGISTRY", "Client", "LaunchSpec", "Resource", "Server", "register"]

REGISTRY: dict[str, Resource] = {}


def register(resource: Resource) -> Resource:
    """Make *resource* available to the plugin (its fixtures), the CLI and the env mapping."""
    REGISTRY[resource.name] = resource
    return resource


# RabbitMQ first: it is the slowest to start, so it gets going before the others.
for _resource in (RabbitMQResource(), PostgresResource(), MongoResource(), RedisResource()):
    register(_resource)
