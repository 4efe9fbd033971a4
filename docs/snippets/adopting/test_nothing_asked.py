"""No test here asks for a fixture: the autouse ``configure_test_env`` of this directory's
conftest started every mapped server and set its variables."""

import os

import pytest

from harness import postgres, redis

pytestmark = pytest.mark.anyio


async def test_the_mapped_servers_are_up_without_a_fixture() -> None:
    assert os.environ["POSTGRES-SUPABASE-URL"].startswith("postgresql://")
    assert await postgres().fetchval("SELECT 1") == 1
    assert await redis().ping()


def test_a_sync_test_sees_the_variables_too() -> None:
    assert os.environ["REDIS-URL"].startswith("redis://")
