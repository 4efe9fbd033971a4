"""A project's own kind of server, Memcached, written with the harness's public API only.

The whole kind is this module: a ``Resource`` subclass, which the project's root
``conftest.py`` registers, and a seed. The fixtures ``memcached_url`` and ``memcached``, the
backends, namespaces, reuse, reaping, the leak check and ``harness doctor`` come with the
registration.

Namespaces: Memcached has no databases, so a namespace is a key prefix. The namespace
``h1a2b3c-gw0-memcached`` (one per session and xdist worker) owns every key that starts with
``h1a2b3c-gw0-memcached:``; the harness's client adds the prefix to every key it is given.
Memcached 1.5+ lists its keys (``lru_crawler metadump all``): counting them is the leak check,
deleting them is dropping the namespace. Nothing else on the server is ever touched, so an
external server may hold other data (no ``flush_all``).

Memcached has no accounts: the servers the harness starts listen on 127.0.0.1 only.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, unquote_to_bytes, urlsplit

import anyio

from harness import HarnessError, seed
from harness.resources import (
    Client,
    HarnessConfig,
    LaunchSpec,
    LeakCounter,
    Resource,
    Server,
    address,
    testcontainers_class,
    with_path,
)

if TYPE_CHECKING:
    from anyio.abc import ByteStream
    from testcontainers.core.container import DockerContainer

DUMP_TIMEOUT = 10.0
"""How long listing the keys may take, retries while the LRU crawler is busy included."""


# --8<-- [start:resource]
class MemcachedResource(Resource):
    name = "memcached"  # fixtures memcached_url / memcached, HARNESS_MEMCACHED_URL
    title = "Memcached"
    url_scheme = "memcached"
    image = "memcached:1.6-alpine"
    install_hint = "apt-get install memcached  (or set HARNESS_MEMCACHED_URL)"
    refuses_root = True  # memcached will not run as root: the harness runs it as another user
    leak_units = ("namespace", "key")

    # -- local backend: Debian's memcached binary ----------------------------------------------
    def find_binaries(self) -> dict[str, str] | None:
        path = shutil.which("memcached")
        return {"memcached": path} if path else None

    def version_of(self, binaries: Mapping[str, str]) -> str:
        argv = [binaries["memcached"], "--version"]
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()

    async def prepare_local(
        self, binaries: Mapping[str, str], workdir: Path, port: int, secret: str, user: str | None
    ) -> LaunchSpec:
        argv = [binaries["memcached"], "--listen=127.0.0.1", f"--port={port}", "--udp-port=0"]
        return LaunchSpec(argv=[*argv, "--memory-limit=64"], url=f"memcached://127.0.0.1:{port}")

    # -- docker backend: testcontainers' Memcached module --------------------------------------
    def container(self, image: str, secret: str, **options: Any) -> DockerContainer:
        return testcontainers_class("memcached", "MemcachedContainer")(image, **options)

    def container_url(self, container: DockerContainer, secret: str) -> str:
        host = container.get_container_host_ip()
        return f"memcached://{host}:{container.get_exposed_port(11211)}"

    # -- every backend (external too: HARNESS_MEMCACHED_URL=memcached://host:port) --------------
    async def probe(self, url: str) -> str:
        client = NamespacedClient(url)
        try:
            return f"Memcached {await client.version()}"
        finally:
            await client.close()

    # --8<-- [end:resource]
    # --8<-- [start:namespaces]
    async def create_namespace(self, server: Server, name: str) -> str:
        """The namespace's URL (``memcached://host:port/<name>``); never a prefix in use."""
        url = with_path(server.url, name)
        if await namespace_keys(url):
            raise HarnessError(
                f"Memcached on {address(url)} already holds keys starting with {name}: the "
                "harness uses a key prefix of its own per session and never deletes keys it did "
                "not write. Rerun: the next prefix is random."
            )
        return url

    async def drop_namespace(self, server: Server, name: str) -> None:
        """Delete the namespace's keys, and only those (idempotent)."""
        url = with_path(server.url, name)
        client = NamespacedClient(url)
        try:
            for key in await namespace_keys(url):
                await client.raw.delete(key)
        finally:
            await client.close()

    async def connect(self, url: str, config: HarnessConfig) -> Client:
        client = NamespacedClient(url)
        return client, client.close

    async def open_leak_counter(self, url: str, client: Any) -> LeakCounter:
        return KeyCounter(url)

    # --8<-- [end:namespaces]


# --8<-- [start:client]
class NamespacedClient:
    """The harness's Memcached client on one namespace: aiomcache's asyncio client, with the
    namespace's prefix added to every key. ``raw`` is the unprefixed client."""

    def __init__(self, url: str) -> None:
        import aiomcache

        self.prefix = _prefix(url)
        self.raw = aiomcache.Client(*_host_port(url))

    def key(self, key: str | bytes) -> bytes:
        """The key as stored on the server: the namespace's prefix, then *key*."""
        return self.prefix + (key.encode() if isinstance(key, str) else key)

    async def get(self, key: str | bytes) -> bytes | None:
        value: bytes | None = await self.raw.get(self.key(key))
        return value

    async def set(self, key: str | bytes, value: bytes, exptime: int = 0) -> bool:
        return await self.raw.set(self.key(key), value, exptime=exptime)

    async def add(self, key: str | bytes, value: bytes, exptime: int = 0) -> bool:
        """Store *value* only if *key* does not exist; returns whether it did."""
        return await self.raw.add(self.key(key), value, exptime=exptime)

    async def delete(self, key: str | bytes) -> bool:
        return await self.raw.delete(self.key(key))

    async def incr(self, key: str | bytes, increment: int = 1) -> int | None:
        return await self.raw.incr(self.key(key), increment)

    async def version(self) -> str:
        with anyio.fail_after(5):
            return (await self.raw.version()).decode()

    async def close(self) -> None:
        await self.raw.close()


# --8<-- [end:client]
# --8<-- [start:counter]
class KeyCounter(LeakCounter):
    """Keys in the namespace, from one ``lru_crawler metadump all`` round trip."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._name = unquote(urlsplit(url).path.lstrip("/"))

    async def count(self) -> dict[str, int]:
        return {self._name: len(await namespace_keys(self._url))}

    async def sample(self, name: str) -> list[str]:
        prefix = len(self._name) + 1
        keys = await namespace_keys(self._url)
        return [key[prefix:].decode(errors="replace") for key in keys[:10]]


async def namespace_keys(url: str) -> list[bytes]:
    """Every key of the namespace *url* names, as stored (prefix included)."""
    prefix = _prefix(url)
    return [key for key in await all_keys(url) if key.startswith(prefix)]


async def all_keys(url: str) -> list[bytes]:
    """Every key on the server (``lru_crawler metadump all``), retried while the crawler is busy
    with another client's request (two xdist workers' leak checks at once).

    :raises HarnessError: when the server cannot list its keys (older than 1.5, crawler off).
    """
    with anyio.fail_after(DUMP_TIMEOUT):
        while True:
            async with await anyio.connect_tcp(*_host_port(url)) as stream:
                await stream.send(b"lru_crawler metadump all\r\n")
                reply = await _reply(stream)
            if not reply.startswith(b"BUSY"):
                break
            await anyio.sleep(0.005)
    if not reply.endswith(b"END\r\n"):
        raise HarnessError(
            f"Memcached on {address(url)} cannot list its keys (lru_crawler metadump all: "
            f"{reply.strip().decode(errors='replace')}): the memcached kind needs Memcached 1.5 "
            "or later with its LRU crawler on (the default)."
        )
    return [
        unquote_to_bytes(line.split(b" ", 1)[0].removeprefix(b"key="))
        for line in reply.splitlines()
        if line.startswith(b"key=")
    ]


async def _reply(stream: ByteStream) -> bytes:
    """Read a metadump reply: key lines then ``END``, or a one-line ``BUSY`` / ``ERROR``."""
    reply = b""
    while not reply.endswith(b"END\r\n"):
        reply += await stream.receive()
        if reply.endswith(b"\r\n") and not reply.startswith(b"key="):
            break  # a one-line answer: END alone, BUSY, ERROR
    return reply


def _prefix(url: str) -> bytes:
    """The key prefix of the namespace *url* names: its path, then ``:``."""
    return unquote(urlsplit(url).path.lstrip("/")).encode() + b":"


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 11211


# --8<-- [end:counter]
# --8<-- [start:seed]
MEMCACHED = MemcachedResource()
"""The kind, registered by conftest.py; ``MEMCACHED.client()`` is this session's client."""


@seed
async def memcached_key(key: str, value: bytes, exptime: int = 0) -> AsyncIterator[str]:
    """Store *value* under *key* in the session's namespace; yield the key; delete it."""
    client: NamespacedClient = MEMCACHED.client()
    if not await client.add(key, value, exptime):
        raise FileExistsError(
            f"memcached key {key!r} exists already: memcached_key never overwrites"
        )
    yield key
    await client.delete(key)


# --8<-- [end:seed]
