"""Redis: a database index per session/worker: an empty one, claimed atomically.

The claim is a key (:data:`CLAIM_KEY`) in the claimed database, set by a script only while that
database is empty: a database holding anything (someone's data, another session's claim) is
never taken, and dropping flushes a database only while it still holds this namespace's claim.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .._binaries import HOMEBREW, install_hint, search_dirs, which_all
from .._exceptions import HarnessError
from .._process import first_line
from .._urls import address, with_path
from ._base import Client, LaunchSpec, LeakCounter, Resource, Server, testcontainers_class

if TYPE_CHECKING:
    import redis.asyncio as aioredis
    from testcontainers.core.container import DockerContainer

    from .._config import HarnessConfig

__all__ = ["RedisResource"]

DATABASES = 64
"""How many databases the servers the harness starts have (Redis's default is 16)."""
MAX_DATABASES = 1024
"""Where the search for a free database stops at the latest (it stops at the server's last)."""
CLAIM_KEY = "harness:namespace"

CLAIM = """
if redis.replicate_commands then redis.replicate_commands() end
redis.call('SELECT', ARGV[2])
local size = redis.call('DBSIZE')
if size == 0 then
  redis.call('SET', KEYS[1], ARGV[1])
  return {1, 0}
end
return {0, size}
"""
"""Claim database ARGV[2] for namespace ARGV[1] if it is empty; returns ``{claimed, dbsize}``."""

RELEASE = """
if redis.replicate_commands then redis.replicate_commands() end
redis.call('SELECT', ARGV[2])
local owner = redis.pcall('GET', KEYS[1])
if owner == ARGV[1] then
  redis.call('FLUSHDB')
  return 1
end
return 0
"""
"""Flush database ARGV[2] only while it holds namespace ARGV[1]'s claim; returns whether it did."""

OWNER = """
redis.call('SELECT', ARGV[1])
local owner = redis.pcall('GET', KEYS[1])
if type(owner) == 'string' then return owner end
return nil
"""
"""The namespace that claimed database ARGV[1], if any (for error messages)."""

EXISTS = "redis.call('SELECT', ARGV[1])"
"""Fails with "DB index is out of range" past the server's last database."""


class RedisResource(Resource):
    name = "redis"
    title = "Redis"
    image = "redis:5.0.8-alpine"
    install_hint = install_hint(
        apt="apt-get install redis-server", brew="brew install redis", url_env="HARNESS_REDIS_URL"
    )
    url_scheme = "redis"
    leak_units = ("database", "key")

    def find_binaries(self) -> dict[str, str] | None:
        return which_all(("redis-server",), search_dirs(*(f"{p}/bin" for p in HOMEBREW)))

    def version_of(self, binaries: Mapping[str, str]) -> str:
        return first_line([binaries["redis-server"], "--version"])

    async def prepare_local(
        self, binaries: Mapping[str, str], workdir: Path, port: int, secret: str, user: str | None
    ) -> LaunchSpec:
        argv = [binaries["redis-server"], "--port", str(port), "--bind", "127.0.0.1"]
        argv += ["--dir", str(workdir), "--save", "", "--appendonly", "no", "--daemonize", "no"]
        argv += ["--databases", str(DATABASES), "--requirepass", secret, "--loglevel", "warning"]
        return LaunchSpec(argv=argv, url=f"redis://:{secret}@127.0.0.1:{port}/0")

    def container(self, image: str, secret: str, **options: Any) -> DockerContainer:
        container_class = testcontainers_class("redis", "RedisContainer")

        return container_class(image, **options, password=secret).with_command(
            f"redis-server --requirepass {secret} --databases {DATABASES} --save '' --appendonly no"
        )

    def container_url(self, container: DockerContainer, secret: str) -> str:
        host = container.get_container_host_ip()
        return f"redis://:{secret}@{host}:{container.get_exposed_port(6379)}/0"

    async def probe(self, url: str) -> str:
        import redis.asyncio as aioredis

        client = aioredis.from_url(url, socket_connect_timeout=2)
        try:
            await client.ping()
            info = await client.info("server")
        finally:
            await client.aclose()
        return f"Redis {info.get('redis_version', '')}"

    async def create_namespace(self, server: Server, name: str) -> str:
        """Claim an empty database for *name*: in one script, so two sessions never share one.

        On an external server whose URL names an index, that index is the only candidate.
        The claim key lives in the claimed database itself: no bookkeeping anywhere else.
        """
        import redis.asyncio as aioredis

        given = _url_index(server)
        async with aioredis.from_url(server.url) as client:
            async for index in _databases(client, server):
                claimed, size = await client.eval(CLAIM, 1, CLAIM_KEY, name, index)
                if claimed:
                    return with_path(server.url, str(index))
                if given is not None:
                    raise await _taken(client, self.url_env, given, int(size))
        raise HarnessError(
            f"no empty Redis database on {address(server.url)}: the harness claims only an empty "
            "one (never database 0 unless the URL names it) and never deletes data it did not "
            "write, and every other database holds keys (other sessions', or someone's data). "
            "Finish the other runs, empty a database, raise `databases` in the server's config, "
            f"or name an empty database in {self.url_env} (without xdist)."
        )

    async def drop_namespace(self, server: Server, name: str) -> None:
        """Flush the database that *name* claimed, if it still holds that claim (idempotent)."""
        import redis.asyncio as aioredis

        async with aioredis.from_url(server.url) as client:
            async for index in _databases(client, server):
                if await client.eval(RELEASE, 1, CLAIM_KEY, name, index):
                    return

    async def connect(self, url: str, config: HarnessConfig) -> Client:
        import redis.asyncio as aioredis

        client = aioredis.from_url(url)
        return client, client.aclose

    async def open_leak_counter(self, url: str, client: Any) -> LeakCounter:
        return KeyCounter(client, urlsplit(url).path.lstrip("/") or "0")


class KeyCounter(LeakCounter):
    """Keys in the session's database (DBSIZE: one round trip), reported under its index."""

    def __init__(self, client: aioredis.Redis, index: str) -> None:
        self._client = client
        self._index = index

    async def count(self) -> dict[str, int]:
        # The namespace's claim key is the harness's own, not the test's: it is not counted.
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.dbsize()
            pipe.exists(CLAIM_KEY)
            size, claim = await pipe.execute()
        return {self._index: int(size) - int(claim)}

    async def sample(self, name: str) -> list[str]:
        keys = [key async for key in self._client.scan_iter(count=100)]
        names = [k.decode() if isinstance(k, bytes) else str(k) for k in keys]
        return [n for n in names if n != CLAIM_KEY][:10]


def _url_index(server: Server) -> int | None:
    """The database index an external server's URL names (``/3`` or ``?db=3``), or ``None``.

    The harness's own servers (local, Docker) come with ``/0`` and every database is free.
    """
    if server.owned:
        return None
    parts = urlsplit(server.url)
    query = parse_qs(parts.query).get("db")
    raw = query[0] if query else parts.path.strip("/")
    return int(raw) if raw.isdigit() else None


async def _databases(client: aioredis.Redis, server: Server) -> AsyncIterator[int]:
    """The candidate indexes: the URL's alone, else 1 up to the server's last (found without
    ``CONFIG``, which shared servers often deny: selecting one past the last fails)."""
    given = _url_index(server)
    if given is not None:
        yield given
        return
    from redis.exceptions import ResponseError

    for index in range(1, MAX_DATABASES):
        try:
            await client.eval(EXISTS, 0, index)
        except ResponseError as exc:
            if "out of range" in str(exc).lower():
                return
            raise
        yield index


async def _taken(client: aioredis.Redis, url_env: str, index: int, size: int) -> HarnessError:
    """The error for a URL whose database is not empty, saying whose keys are there."""
    from redis.exceptions import ResponseError

    where = f"{url_env} names Redis database {index}"
    try:
        owner = await client.eval(OWNER, 1, CLAIM_KEY, index)
    except ResponseError:
        owner = None
    if owner is not None:
        owner = owner.decode() if isinstance(owner, bytes) else str(owner)
        return HarnessError(
            f"{where}, which another harness session ({owner}) uses right now. Every session "
            "(each pytest-xdist worker, each concurrent run) needs a database of its own: leave "
            "the index out of the URL (redis://user:password@host:port) so that each "
            "claims a free one. (A claim left by a killed run goes with `python -m harness reap`.)"
        )
    return HarnessError(
        f"{where}, which holds {size} key{'s' * (size != 1)} the harness did not write. The "
        "harness uses only an empty database and never deletes data it did not write: name an "
        "empty database, leave the index out of the URL to let the harness pick a free one, or "
        "empty that database yourself if its data is disposable."
    )
