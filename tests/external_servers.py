"""Servers the harness does not own, for testing the external backend end to end.

A team's CI service containers or shared server, played by local binaries that the tests start
themselves, outside the harness: PostgreSQL 15, Redis, RabbitMQ with its management plugin, and
FerretDB, each on a free 127.0.0.1 port in a temp dir, with admin credentials of their own. Each
is filled with "a team's data" that a harness run must never touch, and gives the harness a
less privileged account, the one a team would hand to CI, so the privileges the harness needs
are tested too. :mod:`tests.external_snapshot` captures everything observable on them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import aio_pika
import anyio
import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from motor.motor_asyncio import AsyncIOMotorClient

from harness._ferretdb_build import ferretdb_binary
from harness._process import ProcessRecord, chown_to, free_port, server_user, spawn, stop_process
from harness._readiness import wait_ready
from harness.resources.postgres import PostgresResource
from harness.resources.rabbitmq import SBIN, node_env

__all__ = [
    "ALEMBIC_INI",
    "REPO",
    "ExternalServers",
    "external_env",
    "external_servers",
    "outcome",
    "run_env",
    "run_pytest",
    "start_external_servers",
    "write_project",
]

FERRETDB = ferretdb_binary()  # resolved at import: pytester points HOME elsewhere during tests
PG_BIN = Path("/usr/lib/postgresql/15/bin")
STARTUP_TIMEOUT = 60.0
CI_REDIS_CATEGORIES, CI_REDIS_COMMANDS = ["+@all", "-@admin"], ["-flushall"]
"""What the harness's Redis account may do: everything on keys, but no CONFIG, no FLUSHALL."""


@dataclass
class ExternalServers:
    """Four running servers: admin URLs for the tests, CI URLs for the harness."""

    workdir: Path
    secret: str
    ports: dict[str, int]
    processes: list[tuple[ProcessRecord, int]] = field(default_factory=list)

    # -- what the tests use (admin accounts) ---------------------------------------------------
    def postgres_admin(self, database: str = "postgres") -> str:
        return f"postgresql://admin:{self.secret}@127.0.0.1:{self.ports['postgres']}/{database}"

    def redis_admin(self, index: int = 0) -> str:
        return f"redis://:{self.secret}@127.0.0.1:{self.ports['redis']}/{index}"

    def rabbitmq_admin(self, vhost: str = "/") -> str:
        return (
            f"amqp://admin:{self.secret}@127.0.0.1:{self.ports['rabbitmq']}/{quote(vhost, safe='')}"
        )

    @property
    def management(self) -> str:
        return f"http://127.0.0.1:{self.ports['management']}"

    @property
    def mongo(self) -> str:
        return f"mongodb://127.0.0.1:{self.ports['mongo']}/"

    # -- what the harness gets (the CI accounts) -------------------------------------------------
    def harness_env(self, *, redis_index: int | None = None) -> dict[str, str]:
        """``HARNESS_*_URL`` for the harness: CI accounts, no Redis index unless *redis_index*."""
        redis_path = "" if redis_index is None else f"/{redis_index}"
        return {
            "HARNESS_POSTGRES_URL": f"postgresql://ci:{self.secret}@127.0.0.1:{self.ports['postgres']}/postgres",
            "HARNESS_RABBITMQ_URL": f"amqp://ci:{self.secret}@127.0.0.1:{self.ports['rabbitmq']}/",
            "HARNESS_RABBITMQ_MANAGEMENT_URL": self.management,
            "HARNESS_MONGO_URL": self.mongo,
            "HARNESS_REDIS_URL": f"redis://ci:{self.secret}@127.0.0.1:{self.ports['redis']}{redis_path}",
        }

    def stop(self) -> None:
        """Stop every process by its recorded PID (reverse start order), then remove the dir."""
        for record, sig in reversed(self.processes):
            stop_process(record, sig=sig)
        self.processes.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)


async def start_external_servers() -> ExternalServers:
    """Start the four servers concurrently and fill them with the team's data.

    Whatever fails, nothing is left running.
    """
    workdir = _workdir()
    names = ("postgres", "redis", "rabbitmq", "management", "epmd", "dist", "mongo")
    servers = ExternalServers(workdir, secrets.token_urlsafe(18), {n: free_port() for n in names})
    try:
        async with anyio.create_task_group() as group:
            for start in (_start_rabbitmq, _start_postgres, _start_redis, _start_mongo):
                group.start_soon(start, servers)
    except BaseException:
        servers.stop()
        raise
    return servers


def _workdir() -> Path:
    workdir = Path(tempfile.mkdtemp(prefix="harness-external-"))
    workdir.chmod(0o711)  # PostgreSQL runs as `postgres` and must traverse it
    return workdir


def _dir(servers: ExternalServers, name: str, user: str | None = None) -> Path:
    path = servers.workdir / name
    path.mkdir()
    chown_to(path, user)
    return path


async def _wait(
    what: str, probe: Callable[[], Awaitable[object]], record: ProcessRecord, log: Path
) -> None:
    await wait_ready(
        probe, what=what, timeout=STARTUP_TIMEOUT, hint="see its log", process=record, log_path=log
    )


# -- PostgreSQL --------------------------------------------------------------------------------
async def _start_postgres(servers: ExternalServers) -> None:
    user = server_user()
    workdir = _dir(servers, "postgres", user)
    pwfile = workdir / "pwfile"
    pwfile.write_text(servers.secret, encoding="utf-8")
    chown_to(pwfile, user)
    initdb = [str(PG_BIN / "initdb"), "-D", str(workdir / "data"), "-U", "admin"]
    initdb += [f"--pwfile={pwfile}", "--auth=scram-sha-256", "--no-sync", "-E", "UTF8"]
    result = await anyio.to_thread.run_sync(
        lambda: subprocess.run(initdb, capture_output=True, text=True, user=user, cwd=workdir)
    )
    pwfile.unlink()
    assert result.returncode == 0, result.stderr
    argv = [str(PG_BIN / "postgres"), "-D", str(workdir / "data")]
    settings = {
        "listen_addresses": "127.0.0.1",
        "port": str(servers.ports["postgres"]),
        "unix_socket_directories": str(workdir),
        "fsync": "off",
        "max_connections": "400",
    }
    for key, value in settings.items():
        argv += ["-c", f"{key}={value}"]
    log = workdir / "server.log"
    _, record = spawn(argv, cwd=workdir, log_path=log, user=user)
    servers.processes.append((record, 2))  # SIGINT: fast shutdown
    await _wait(
        "external PostgreSQL",
        lambda: PostgresResource().probe(servers.postgres_admin()),
        record,
        log,
    )
    await _populate_postgres(servers)


async def _populate_postgres(servers: ExternalServers) -> None:
    secret = servers.secret
    admin = await asyncpg.connect(servers.postgres_admin())
    try:
        await admin.execute(f"CREATE ROLE team LOGIN PASSWORD '{secret}'")
        # What the harness needs on a server it does not own: LOGIN and CREATEDB, nothing more.
        await admin.execute(f"CREATE ROLE ci LOGIN CREATEDB PASSWORD '{secret}'")
        await admin.execute("CREATE DATABASE team_app OWNER team")
        await admin.execute("CREATE TABLE public.team_settings (key text PRIMARY KEY, value text)")
        await admin.execute("INSERT INTO team_settings VALUES ('theme', 'dark'), ('locale', 'fr')")
    finally:
        await admin.close()
    team = await asyncpg.connect(
        f"postgresql://team:{secret}@127.0.0.1:{servers.ports['postgres']}/team_app"
    )
    try:
        await team.execute(
            "CREATE SCHEMA billing;"
            "CREATE TABLE billing.invoices (id int PRIMARY KEY, customer text, cents int);"
            "INSERT INTO billing.invoices VALUES (1, 'acme', 1200), (2, 'globex', 99);"
            "CREATE TABLE public.customers (id int PRIMARY KEY, name text);"
            "INSERT INTO public.customers VALUES (42, 'precious');"
        )
    finally:
        await team.close()


# -- Redis -------------------------------------------------------------------------------------
async def _start_redis(servers: ExternalServers) -> None:
    workdir = _dir(servers, "redis")
    argv = ["redis-server", "--port", str(servers.ports["redis"]), "--bind", "127.0.0.1"]
    argv += ["--dir", str(workdir), "--save", "", "--appendonly", "no", "--databases", "16"]
    argv += ["--requirepass", servers.secret, "--loglevel", "warning"]
    log = workdir / "server.log"
    _, record = spawn(argv, cwd=workdir, log_path=log)
    servers.processes.append((record, 15))

    async def probe() -> None:
        async with aioredis.from_url(servers.redis_admin(), socket_connect_timeout=2) as client:
            await client.ping()

    await _wait("external Redis", probe, record, log)
    async with aioredis.from_url(servers.redis_admin()) as admin:
        await admin.acl_setuser(
            "ci",
            enabled=True,
            passwords=[f"+{servers.secret}"],
            keys=["*"],
            channels=["*"],
            categories=CI_REDIS_CATEGORIES,
            commands=CI_REDIS_COMMANDS,
        )
    for index, keys in TEAM_REDIS.items():
        async with aioredis.from_url(servers.redis_admin(index)) as db:
            for key, value in keys.items():
                if isinstance(value, dict):
                    await db.hset(key, mapping=dict(value))
                elif isinstance(value, list):
                    await db.rpush(key, *value)
                else:
                    await db.set(key, value, ex=3600 if key.startswith("session:") else None)


TEAM_REDIS: Mapping[int, Mapping[str, str | list[str] | dict[str, str]]] = {
    0: {"customer:42": "precious", "session:abc": "token", "cart:7": {"apples": "3"}},
    1: {"customer:42": "precious", "queue:emails": ["a@example.com", "b@example.com"]},
    5: {"feature:flags": {"beta": "on"}},
}
"""The team's keys: databases 0, 1 and 5 (a key with a TTL in 0); 2-4 and 6-15 are empty."""


# -- RabbitMQ ----------------------------------------------------------------------------------
async def _start_rabbitmq(servers: ExternalServers) -> None:
    workdir = _dir(servers, "rabbitmq")
    ports = servers.ports
    (workdir / "rabbitmq.conf").write_text(
        f"listeners.tcp.1 = 127.0.0.1:{ports['rabbitmq']}\n"
        f"default_user = admin\ndefault_pass = {servers.secret}\nloopback_users = none\n"
        f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {ports['management']}\n"
        "log.console = true\nlog.console.level = warning\nlog.file = false\n",
        encoding="utf-8",
    )
    (workdir / "enabled_plugins").write_text("[rabbitmq_management].\n", encoding="utf-8")
    node = f"external-{ports['rabbitmq']}@localhost"
    env = {
        **os.environ,
        **node_env(workdir, node, ports["epmd"], f"{SBIN}/rabbitmqctl"),
        "RABBITMQ_NODE_PORT": str(ports["rabbitmq"]),
        "RABBITMQ_DIST_PORT": str(ports["dist"]),
        "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"),
        "RABBITMQ_LOG_BASE": str(workdir / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(workdir / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(workdir / "rabbitmq"),
        "RABBITMQ_PID_FILE": str(workdir / "rabbitmq.pid"),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }
    epmd = [shutil.which("epmd", path=f"{SBIN}:{os.environ['PATH']}") or "epmd"]
    epmd += ["-port", str(ports["epmd"]), "-address", "127.0.0.1"]
    _, helper = spawn(epmd, env=env, cwd=workdir, log_path=workdir / "epmd.log")
    servers.processes.append((helper, 15))
    log = workdir / "server.log"
    _, record = spawn([f"{SBIN}/rabbitmq-server"], env=env, cwd=workdir, log_path=log)
    servers.processes.append((record, 9))  # its data is thrown away: no 7 s graceful shutdown
    async with _management(servers) as api:

        async def probe() -> None:
            (await api.get("/api/overview")).raise_for_status()

        await _wait("external RabbitMQ management API", probe, record, log)
        await _populate_rabbitmq(servers, api)


def _management(servers: ExternalServers) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=servers.management, auth=("admin", servers.secret), timeout=10
    )


async def _populate_rabbitmq(servers: ExternalServers, api: httpx.AsyncClient) -> None:
    everything = {"configure": ".*", "write": ".*", "read": ".*"}
    calls = [
        # The harness's account: creating vhosts through the HTTP API needs `administrator`;
        # the readiness probe opens a connection on the URL's vhost (`/`).
        ("/api/users/ci", {"password": servers.secret, "tags": "administrator"}),
        ("/api/users/team", {"password": servers.secret, "tags": ""}),
        ("/api/vhosts/team", {"description": "the team's own"}),
        ("/api/permissions/team/team", everything),
        ("/api/permissions/team/admin", everything),
        ("/api/permissions/%2F/ci", everything),
    ]
    for path, body in calls:
        (await api.put(path, json=body)).raise_for_status()
    await _fill_queue(servers.rabbitmq_admin("team"), "orders", 3, exchange="team.events")
    await _fill_queue(servers.rabbitmq_admin("/"), "jobs", 2)


async def _fill_queue(url: str, name: str, count: int, exchange: str | None = None) -> None:
    connection = await aio_pika.connect(url, timeout=10)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(name, durable=True)
        target = channel.default_exchange
        if exchange is not None:
            target = await channel.declare_exchange(
                exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
            await queue.bind(target, routing_key=f"{name}.*")
        for n in range(count):
            message = aio_pika.Message(f"{name} #{n}".encode(), delivery_mode=2)
            key = f"{name}.new" if exchange is not None else name
            await target.publish(message, routing_key=key)


# -- MongoDB (FerretDB) ------------------------------------------------------------------------
async def _start_mongo(servers: ExternalServers) -> None:
    assert FERRETDB is not None, "FerretDB is not built: run `make setup`"
    workdir = _dir(servers, "mongo")
    (workdir / "data").mkdir()
    argv = [str(FERRETDB), "-listen-addr", f"127.0.0.1:{servers.ports['mongo']}"]
    argv += ["-sqlite-dir", str(workdir / "data")]
    log = workdir / "server.log"
    _, record = spawn(argv, cwd=workdir, log_path=log)
    servers.processes.append((record, 15))
    client: AsyncIOMotorClient[dict[str, object]] = AsyncIOMotorClient(
        servers.mongo, serverSelectionTimeoutMS=2000
    )
    try:
        await _wait("external FerretDB", lambda: client.admin.command("ping"), record, log)
        team = client["team_app"]
        await team.customers.insert_many([{"_id": 42, "name": "precious"}, {"_id": 7, "name": "x"}])
        await team.orders.insert_one({"_id": "o-1", "customer": 42, "cents": 1200})
    finally:
        client.close()


# -- running the harness against them ------------------------------------------------------------
REPO = Path(__file__).resolve().parents[1]
ALEMBIC_INI = REPO / "shared" / "migrations" / "alembic.ini"
_INHERITED = ("HARNESS_", "PYTEST_XDIST_", "PYTEST_ADDOPTS")


def run_env(state_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without anything that would join another run, plus *extra*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED)}
    return {**env, "HARNESS_STATE_DIR": str(state_dir), **(extra or {})}


def _pytest_argv(*args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--harness-backend=external",
        *args,
    ]


async def run_pytest(
    cwd: Path, *args: str, env: Mapping[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """An inner pytest on the external backend, in a subprocess (bounded by *timeout*)."""
    return await anyio.to_thread.run_sync(
        lambda: subprocess.run(
            _pytest_argv(*args),
            cwd=cwd,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    )


def outcome(result: subprocess.CompletedProcess[str]) -> str:
    """The inner run's summary line ("3 passed in 1.20s"), for asserts that show the output."""
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def write_project(path: Path, files: dict[str, str]) -> Path:
    """A project for an inner run: an ini (with the services' migrations) and test files."""
    path.mkdir(parents=True, exist_ok=True)
    ini = f"[pytest]\nharness_alembic_ini = {ALEMBIC_INI}\n"
    (path / "pytest.ini").write_text(ini, encoding="utf-8")
    for name, text in files.items():
        (path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def external_env(servers: ExternalServers, tmp_path: Path, **extra: str) -> dict[str, str]:
    """An inner run's environment: the servers' CI URLs, their ports (``EXTERNAL_PORTS``, for
    the inner tests' asserts), a state dir of its own under *tmp_path*, and *extra*."""
    ports = ",".join(f"{k}={v}" for k, v in servers.ports.items())
    return run_env(tmp_path / "state", {**servers.harness_env(), "EXTERNAL_PORTS": ports, **extra})


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
async def external_servers(anyio_backend: str) -> AsyncIterator[ExternalServers]:
    """One set of external servers for every test that needs them (RabbitMQ alone takes ~6 s)."""
    servers = await start_external_servers()
    try:
        yield servers
    finally:
        servers.stop()
