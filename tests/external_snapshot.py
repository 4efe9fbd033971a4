"""Everything observable on the external servers, as plain data a test compares before/after.

Read with the servers' admin accounts: databases, roles, and every row of every table;
vhosts, users, permissions, exchanges, bindings, queues and their exact message counts; every
key of every Redis database with its type, value and whether it has a TTL; every Mongo database
with every document.
"""

from __future__ import annotations

import re
from typing import Any

import aio_pika
import anyio
import asyncpg
import httpx
import redis.asyncio as aioredis
from motor.motor_asyncio import AsyncIOMotorClient

from .external_servers import ExternalServers

__all__ = ["HARNESS_NAME", "harness_names", "snapshot", "without_harness"]

HARNESS_NAME = re.compile(r"^(h[0-9a-f]{6}-[a-z0-9]+-[a-z0-9]+|harness_tpl_\w+)$")
"""What the harness names its databases, vhosts and Mongo databases (and its templates)."""

Snapshot = dict[str, Any]


async def snapshot(servers: ExternalServers) -> Snapshot:
    """Everything the four servers hold, read concurrently."""
    result: Snapshot = {}

    async def take(name: str, reader: Any) -> None:
        result[name] = await reader(servers)

    async with anyio.create_task_group() as group:
        for name, reader in READERS.items():
            group.start_soon(take, name, reader)
    return result


def harness_names(state: Snapshot) -> dict[str, set[str]]:
    """The harness's namespaces present in *state*, per resource (Redis: the claimed indexes)."""
    return {
        "postgres": {d[0] for d in state["postgres"]["databases"] if HARNESS_NAME.match(d[0])},
        "rabbitmq": {v for v in state["rabbitmq"]["vhosts"] if HARNESS_NAME.match(v)},
        "mongo": {d for d in state["mongo"] if HARNESS_NAME.match(d)},
        "redis": {
            str(index)
            for index, keys in state["redis"].items()
            if any(key.startswith(b"harness:") for key in keys)
        },
    }


def without_harness(state: Snapshot) -> Snapshot:
    """*state* without the harness's namespaces: what the team sees, for comparisons mid-run."""
    names = harness_names(state)
    vhosts = [f"'{v}'" for v in names["rabbitmq"]]
    postgres = state["postgres"]
    return {
        "postgres": {
            **postgres,
            "databases": [d for d in postgres["databases"] if d[0] not in names["postgres"]],
        },
        "rabbitmq": {
            what: [
                i for i in items if i not in names["rabbitmq"] and not any(v in i for v in vhosts)
            ]
            if isinstance(items, list)
            else items
            for what, items in state["rabbitmq"].items()
        },
        # The harness claims only empty Redis databases: the team saw them empty.
        "redis": {i: {} if str(i) in names["redis"] else k for i, k in state["redis"].items()},
        "mongo": {d: c for d, c in state["mongo"].items() if d not in names["mongo"]},
    }


# -- PostgreSQL --------------------------------------------------------------------------------
async def _postgres(servers: ExternalServers) -> Snapshot:
    admin = await asyncpg.connect(servers.postgres_admin())
    try:
        databases = await admin.fetch(
            "SELECT datname, pg_get_userbyid(datdba), datistemplate, datallowconn, "
            "shobj_description(oid, 'pg_database') FROM pg_database ORDER BY datname"
        )
        roles = await admin.fetch(
            "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolconnlimit "
            "FROM pg_roles ORDER BY rolname"
        )
    finally:
        await admin.close()
    contents = {}
    for row in databases:
        # The harness's own databases are only listed: connecting to a template would block a
        # concurrent run's CREATE DATABASE ... TEMPLATE.
        if row["datallowconn"] and not HARNESS_NAME.match(row["datname"]):
            contents[row["datname"]] = await _database_contents(servers, row["datname"])
    return {
        "databases": [tuple(r) for r in databases],
        "roles": [tuple(r) for r in roles],
        "contents": contents,
    }


async def _database_contents(servers: ExternalServers, database: str) -> dict[str, Any]:
    """Every relation outside the system schemas, with every row of every table."""
    connection = await asyncpg.connect(servers.postgres_admin(database))
    try:
        relations = await connection.fetch(
            "SELECT n.nspname, c.relname, c.relkind::text, pg_get_userbyid(c.relowner) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2"
        )
        schemas = await connection.fetch("SELECT nspname FROM pg_namespace ORDER BY 1")
        rows = {}
        for schema, name, kind, _ in relations:
            if kind == "r":
                fetched = await connection.fetch(
                    f'SELECT row_to_json(t)::text FROM "{schema}"."{name}" t'
                )
                rows[f"{schema}.{name}"] = sorted(r[0] for r in fetched)
    finally:
        await connection.close()
    return {
        "schemas": [r[0] for r in schemas],
        "relations": [tuple(r) for r in relations],
        "rows": rows,
    }


# -- RabbitMQ ----------------------------------------------------------------------------------
KEEP = {
    "vhosts": ("name", "description", "tags"),
    "users": ("name", "tags"),
    "permissions": ("user", "vhost", "configure", "write", "read"),
    "topic-permissions": ("user", "vhost", "exchange", "write", "read"),
    "exchanges": ("vhost", "name", "type", "durable", "auto_delete", "internal", "arguments"),
    "bindings": ("vhost", "source", "destination", "destination_type", "routing_key", "arguments"),
    "queues": ("vhost", "name", "durable", "auto_delete", "exclusive", "arguments"),
    "policies": ("vhost", "name", "pattern", "definition"),
}


async def _rabbitmq(servers: ExternalServers) -> Snapshot:
    async with httpx.AsyncClient(
        base_url=servers.management, auth=("admin", servers.secret), timeout=10
    ) as api:
        raw: dict[str, list[dict[str, Any]]] = {}
        for what in KEEP:
            response = await api.get(f"/api/{what}")
            response.raise_for_status()
            raw[what] = response.json()
    state: Snapshot = {
        what: sorted(repr(tuple(item.get(f) for f in KEEP[what])) for item in raw[what])
        for what in KEEP
    }
    state["vhosts"] = sorted(v["name"] for v in raw["vhosts"])
    granted = {p["vhost"] for p in raw["permissions"] if p["user"] == "admin"}
    queues = raw["queues"]
    state["messages"] = {
        f"{q['vhost']}/{q['name']}": await _message_count(servers, q["vhost"], q["name"])
        for q in queues
        if q["vhost"] in granted and not q.get("exclusive")
    }
    return state


async def _message_count(servers: ExternalServers, vhost: str, queue: str) -> int:
    """Exact, from a passive declare (the management API's counts lag by its stats interval)."""
    connection = await aio_pika.connect(servers.rabbitmq_admin(vhost), timeout=10)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        assert declared.declaration_result.message_count is not None
        return declared.declaration_result.message_count


# -- Redis -------------------------------------------------------------------------------------
async def _redis(servers: ExternalServers) -> dict[int, dict[bytes, tuple[Any, ...]]]:
    async with aioredis.from_url(servers.redis_admin()) as admin:
        databases = int((await admin.config_get("databases"))["databases"] or 16)
    state: dict[int, dict[bytes, tuple[Any, ...]]] = {}
    for index in range(databases):
        async with aioredis.from_url(servers.redis_admin(index)) as db:
            keys = {}
            async for key in db.scan_iter(count=1000):
                keys[key] = (await db.type(key), await db.dump(key), await db.pttl(key) > 0)
        state[index] = dict(sorted(keys.items()))
    return state


# -- MongoDB -----------------------------------------------------------------------------------
async def _mongo(servers: ExternalServers) -> Snapshot:
    client: AsyncIOMotorClient[dict[str, Any]] = AsyncIOMotorClient(
        servers.mongo, serverSelectionTimeoutMS=5000
    )
    try:
        state: Snapshot = {}
        for name in sorted(await client.list_database_names()):
            database = client[name]
            state[name] = {
                collection: sorted([repr(doc) async for doc in database[collection].find()])
                for collection in sorted(await database.list_collection_names())
            }
    finally:
        client.close()
    return state


READERS = {"postgres": _postgres, "rabbitmq": _rabbitmq, "redis": _redis, "mongo": _mongo}
