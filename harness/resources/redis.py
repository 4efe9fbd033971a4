"""Redis: a database index per session/worker, claimed atomically in database 0."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .._exceptions import HarnessError
from .._process import first_line
from .._urls import with_path
from ._base import Client, LaunchSpec, LeakCounter, Resource, Server, testcontainers_class

if TYPE_CHECKING:
    import redis.asyncio as aioredis
    from testcontainers.core.container import DockerContainer

    from .._config import HarnessConfig

__all__ = ["RedisResource"]

DATABASES = 64
CLAIM_TTL = 24 * 3600  # a claim by a killed run expires instead of blocking an index forever


class RedisResource(Resource):
    name = "redis"
    title = "Redis"
    image = "redis:5.0.8-alpine"
    install_hint = "apt-get install redis-server  (or set HARNESS_REDIS_URL)"
    url_scheme = "redis"
    leak_units = ("database", "key")

    def find_binaries(self) -> dict[str, str] | None:
        path = shutil.which("redis-server")
        return {"redis-server": path} if path else None

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
        import redis.asyncio as aioredis

        async with aioredis.from_url(server.url) as admin:
            databases = int((await admin.config_get("databases")).get("databases") or 16)
            for index in range(1, databases):
                if await admin.set(f"harness:claim:{index}", name, nx=True, ex=CLAIM_TTL):
                    await admin.set(f"harness:ns:{name}", index, ex=CLAIM_TTL)
                    async with aioredis.from_url(with_path(server.url, str(index))) as db:
                        await db.flushdb()
                    return with_path(server.url, str(index))
        raise HarnessError(
            f"all {databases - 1} Redis databases of {server.resource} are claimed by other runs; "
            "finish them, or raise `databases` in the server's config."
        )

    async def drop_namespace(self, server: Server, name: str) -> None:
        import redis.asyncio as aioredis

        async with aioredis.from_url(server.url) as admin:
            raw = await admin.get(f"harness:ns:{name}")
            if raw is None:
                return
            index = raw.decode() if isinstance(raw, bytes) else str(raw)
            async with aioredis.from_url(with_path(server.url, index)) as db:
                await db.flushdb()
            await admin.delete(f"harness:ns:{name}", f"harness:claim:{index}")

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
        return {self._index: int(await self._client.dbsize())}

    async def sample(self, name: str) -> list[str]:
        keys = [key async for key in self._client.scan_iter(count=100)][:10]
        return [k.decode() if isinstance(k, bytes) else str(k) for k in keys]
