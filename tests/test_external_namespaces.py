"""The external backend on servers the harness does not own: a run creates its own database /
vhost / Redis database / Mongo database, removes them at the end, and changes nothing else.

Every test compares a snapshot of everything observable on the servers before and after
(:mod:`tests.external_snapshot`): equal means untouched, and nothing of the harness left.
"""

from __future__ import annotations

from pathlib import Path

import aio_pika
import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from motor.motor_asyncio import AsyncIOMotorClient

from harness._exceptions import HarnessError
from harness.resources import REGISTRY, Server

from .external_servers import ExternalServers, external_env, outcome, run_pytest, write_project
from .external_snapshot import snapshot

# The "team's" servers are started from the local binaries: the local lane has them.
pytestmark = [pytest.mark.anyio, pytest.mark.inner, pytest.mark.backend("local")]

HEADER = """
import os
from urllib.parse import unquote, urlsplit

import aio_pika
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.harness_leak_check("off")]
PORTS = {k: int(v) for k, v in (p.split("=") for p in os.environ["EXTERNAL_PORTS"].split(","))}


def namespace(url):
    return unquote(urlsplit(url).path.lstrip("/"))
"""

# Each test checks it is on the external server, in a namespace of its own that holds none of the
# team's data, then leaves data behind on purpose: dropping the namespace must remove it.
INNER_TESTS = {
    "postgres": """
async def test_postgres(postgres, postgres_url):
    assert urlsplit(postgres_url).port == PORTS["postgres"]
    name = await postgres.fetchval("SELECT current_database()")
    assert name == namespace(postgres_url) and name.startswith("h")
    assert await postgres.fetchval("SELECT version_num FROM alembic_version")  # from the template
    assert await postgres.fetchval("SELECT to_regclass('public.team_settings')") is None
    await postgres.execute("CREATE TABLE left_behind (x int); INSERT INTO left_behind VALUES (1)")
""",
    "rabbitmq": """
async def test_rabbitmq(rabbitmq, rabbitmq_url):
    assert urlsplit(rabbitmq_url).port == PORTS["rabbitmq"]
    assert namespace(rabbitmq_url).startswith("h")
    queue = await rabbitmq.declare_queue("orders", durable=True)  # the team's name, our vhost
    assert queue.declaration_result.message_count == 0
    await rabbitmq.declare_exchange("team.events", aio_pika.ExchangeType.TOPIC, durable=True)
    await rabbitmq.default_exchange.publish(
        aio_pika.Message(b"left behind", delivery_mode=2), routing_key="orders"
    )
""",
    "redis": """
async def test_redis(redis, redis_url):
    assert urlsplit(redis_url).port == PORTS["redis"]
    index = int(namespace(redis_url))
    assert index not in (0, 1, 5), "a database holding the team's keys"
    assert await redis.get("customer:42") is None
    await redis.set("customer:42", "the test's")
    await redis.set("left:behind", "1", ex=600)
""",
    "mongo": """
async def test_mongo(mongo, mongo_url):
    assert urlsplit(mongo_url).port == PORTS["mongo"]
    assert mongo.name == namespace(mongo_url) and mongo.name.startswith("h")
    assert await mongo.customers.count_documents({}) == 0
    await mongo.customers.insert_one({"_id": 42, "name": "the test's"})
""",
}


# -- one resource, and all four ----------------------------------------------------------------
@pytest.mark.parametrize("resource", [*INNER_TESTS, "all four"])
async def test_a_run_creates_its_namespace_and_leaves_the_server_as_it_found_it(
    resource: str, external_servers: ExternalServers, tmp_path: Path
) -> None:
    tests = INNER_TESTS if resource == "all four" else {resource: INNER_TESTS[resource]}
    project = write_project(
        tmp_path / "project", {"test_inner.py": HEADER + "".join(tests.values())}
    )
    before = await snapshot(external_servers)

    result = await run_pytest(project, "-q", env=external_env(external_servers, tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert outcome(result).startswith(f"{len(tests)} passed"), result.stdout
    assert await snapshot(external_servers) == before


# -- name clashes ------------------------------------------------------------------------------
CLASH_CONFTEST = """
import harness._infra

# Every namespace of this run gets a name the test chose (and created beforehand).
assert callable(harness._infra._namespace_prefix)
harness._infra._namespace_prefix = lambda worker: "hclash-main"
"""


async def _create_clashing_namespaces(servers: ExternalServers) -> None:
    """The team owns a database, a vhost and a Mongo database with the harness's next names."""
    admin = await asyncpg.connect(servers.postgres_admin())
    try:
        await admin.execute('CREATE DATABASE "hclash-main-postgres" OWNER team')
    finally:
        await admin.close()
    team_db = await asyncpg.connect(servers.postgres_admin("hclash-main-postgres"))
    try:
        await team_db.execute("CREATE TABLE precious (x int); INSERT INTO precious VALUES (42)")
    finally:
        await team_db.close()
    async with httpx.AsyncClient(
        base_url=servers.management, auth=("admin", servers.secret)
    ) as api:
        (await api.put("/api/vhosts/hclash-main-rabbitmq")).raise_for_status()
        everything = {"configure": ".*", "write": ".*", "read": ".*"}
        (
            await api.put("/api/permissions/hclash-main-rabbitmq/admin", json=everything)
        ).raise_for_status()
    connection = await aio_pika.connect(servers.rabbitmq_admin("hclash-main-rabbitmq"))
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.declare_queue("precious", durable=True)
        await channel.default_exchange.publish(aio_pika.Message(b"42"), routing_key="precious")
    mongo: AsyncIOMotorClient[dict[str, object]] = AsyncIOMotorClient(servers.mongo)
    try:
        await mongo["hclash-main-mongo"].precious.insert_one({"_id": 42})
    finally:
        mongo.close()


@pytest.fixture
async def clashing_namespaces(external_servers: ExternalServers) -> ExternalServers:
    """Create them once for the module's clash tests; they stay (the team's data, after all)."""
    state = await snapshot(external_servers)
    if not any(d[0] == "hclash-main-postgres" for d in state["postgres"]["databases"]):
        await _create_clashing_namespaces(external_servers)
    return external_servers


CLASH_MESSAGES = {
    "postgres": "PostgreSQL database hclash-main-postgres already exists on 127.0.0.1:",
    "rabbitmq": "RabbitMQ vhost hclash-main-rabbitmq already exists on 127.0.0.1:",
    "mongo": "MongoDB database hclash-main-mongo already exists on 127.0.0.1:",
}


@pytest.mark.parametrize("resource", sorted(CLASH_MESSAGES))
async def test_a_namespace_that_exists_is_an_error_that_touches_nothing(
    resource: str, clashing_namespaces: ExternalServers
) -> None:
    env = clashing_namespaces.harness_env()
    server = Server(resource, "external", env[REGISTRY[resource].url_env], owned=False)
    server.extra["management_url"] = env["HARNESS_RABBITMQ_MANAGEMENT_URL"]
    before = await snapshot(clashing_namespaces)

    with pytest.raises(HarnessError) as caught:
        await REGISTRY[resource].create_namespace(server, f"hclash-main-{resource}")

    message = str(caught.value)
    assert CLASH_MESSAGES[resource] in message
    assert "never drops or changes what it did not create" in message
    assert await snapshot(clashing_namespaces) == before


async def test_a_run_whose_names_are_taken_fails_clearly_and_drops_nothing(
    clashing_namespaces: ExternalServers, tmp_path: Path
) -> None:
    """Through the whole harness: the failed start's cleanup must not drop the team's
    namespaces that made it fail, and the Redis database it did claim is given back."""
    project = write_project(
        tmp_path / "project",
        {"conftest.py": CLASH_CONFTEST, "test_inner.py": HEADER + "".join(INNER_TESTS.values())},
    )
    before = await snapshot(clashing_namespaces)

    result = await run_pytest(project, "-q", env=external_env(clashing_namespaces, tmp_path))

    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "already exists on 127.0.0.1:" in output, output
    assert await snapshot(clashing_namespaces) == before


# -- a Redis index in the URL ------------------------------------------------------------------
async def test_a_redis_url_naming_a_database_with_data_is_an_error_that_touches_nothing(
    external_servers: ExternalServers, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "project", {"test_inner.py": HEADER + INNER_TESTS["redis"]})
    env = external_env(external_servers, tmp_path, **external_servers.harness_env(redis_index=1))
    before = await snapshot(external_servers)

    result = await run_pytest(project, "-q", env=env)

    assert result.returncode != 0, result.stdout
    assert (
        "HARNESS_REDIS_URL names Redis database 1, which holds 2 keys the harness did not write"
        in result.stdout + result.stderr
    ), result.stdout + result.stderr
    assert await snapshot(external_servers) == before


REDIS_INDEX_TESTS = """
@pytest.mark.parametrize("n", [1, 2])
async def test_uses_the_index_of_the_url(n, redis, redis_url):
    assert int(namespace(redis_url)) == 7
    await redis.set("left:behind", n)
    import anyio; await anyio.sleep(1)  # both workers start before either finishes
"""


async def test_a_redis_url_naming_an_empty_database_is_the_only_one_used(
    external_servers: ExternalServers, tmp_path: Path
) -> None:
    """Under xdist the second worker cannot have it too: a clear error naming the fix."""
    project = write_project(tmp_path / "project", {"test_inner.py": HEADER + REDIS_INDEX_TESTS})
    env = external_env(external_servers, tmp_path, **external_servers.harness_env(redis_index=7))
    before = await snapshot(external_servers)

    result = await run_pytest(project, "-q", "-n", "2", env=env)

    output = result.stdout + result.stderr
    assert "1 passed" in outcome(result), output
    assert "HARNESS_REDIS_URL names Redis database 7, which another harness session" in output
    assert "leave the index out of the URL" in output
    assert await snapshot(external_servers) == before


async def test_a_redis_database_whose_claim_was_lost_is_not_flushed(
    external_servers: ExternalServers,
) -> None:
    """Dropping flushes a database only while it holds this namespace's claim: once a test has
    flushed it (and someone else has written there since), the data is not ours to delete."""
    resource = REGISTRY["redis"]
    url = external_servers.harness_env()["HARNESS_REDIS_URL"]
    server = Server("redis", "external", url, owned=False)
    url = await resource.create_namespace(server, "hlost00-main-redis")
    index = int(url.rsplit("/", 1)[1])
    async with aioredis.from_url(external_servers.redis_admin(index)) as db:
        await db.flushdb()
        await db.set("someone:else", "1")
        try:
            await resource.drop_namespace(server, "hlost00-main-redis")
            assert await db.get("someone:else") == b"1"
        finally:
            await db.flushdb()
