"""The per-test checks: a time limit (here per module, and closer for one test) and the leak
check, satisfied by a seed that only deletes what the endpoint creates."""

from collections.abc import AsyncIterator
from uuid import uuid4

import httpx
import pytest

from harness import redis, seed, seeded

# --8<-- [start:module_limit]
pytestmark = [pytest.mark.anyio, pytest.mark.harness_timeout(60)]  # every test in this module
# --8<-- [end:module_limit]


# --8<-- [start:delete_only]
@seed
async def login_failures_of(email: str) -> AsyncIterator[str]:
    """Creates nothing: a failed login makes the endpoint count it in Redis. Deletes the count."""
    yield email
    await redis().delete(f"auth:login-failures:{email}")


async def test_a_wrong_password_is_counted(auth_client: httpx.AsyncClient) -> None:
    async with seeded(login_failures_of(f"nobody-{uuid4().hex}@example.test")) as email:
        response = await auth_client.post("/auth/login", json={"email": email, "password": "wrong"})
        assert response.status_code == 401
        assert await redis().get(f"auth:login-failures:{email}") == b"1"
    # without the seed: LeakError, "redis: 1 key left (0 before, 1 after)"


# --8<-- [end:delete_only]


# --8<-- [start:test_limit]
@pytest.mark.harness_timeout(5)  # the closest marker wins: 5 s for this test, not 60
async def test_me_without_a_token_is_401(auth_client: httpx.AsyncClient) -> None:
    response = await auth_client.get("/auth/me")
    assert response.status_code == 401


# --8<-- [end:test_limit]
