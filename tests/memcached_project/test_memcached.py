"""The project's own tests of its memcached kind, through the fixtures the registration made."""

from __future__ import annotations

import os
from uuid import uuid4

import pytest
from memcached_kind import MEMCACHED, NamespacedClient, memcached_key

from harness import seeded

pytestmark = pytest.mark.anyio


# --8<-- [start:use]
async def test_the_client_works_in_the_sessions_namespace(
    memcached: NamespacedClient, memcached_url: str
) -> None:
    assert os.environ["MEMCACHED-URL"] == memcached_url  # harness_env_map
    assert MEMCACHED.client() is memcached
    await memcached.set("greeting", b"hello")
    try:
        assert await memcached.get("greeting") == b"hello"
        # stored under the namespace's prefix: h<random>-<worker>-memcached:greeting
        assert await memcached.raw.get(memcached.key("greeting")) == b"hello"
        assert memcached.key("greeting").endswith(b"-memcached:greeting")
    finally:
        await memcached.delete("greeting")


async def test_a_seeded_key_is_there_during_the_block_only(memcached: NamespacedClient) -> None:
    key = f"courier:{uuid4().hex}:last_seen"
    async with seeded(memcached_key(key, b"2026-12-01T10:00:00Z")):
        assert await memcached.get(key) == b"2026-12-01T10:00:00Z"
    assert await memcached.get(key) is None


# --8<-- [end:use]
async def test_the_seed_never_overwrites(memcached: NamespacedClient) -> None:
    key = f"taken:{uuid4().hex}"
    async with seeded(memcached_key(key, b"first")):
        with pytest.raises(FileExistsError, match="exists already"):
            async with seeded(memcached_key(key, b"second")):
                pass  # pragma: no cover
        assert await memcached.get(key) == b"first"
