"""``POST /auth/login``: a token for valid credentials, 401 otherwise, 429 after five failures."""

from __future__ import annotations

import httpx
import pytest
from fastapi import status

from harness import redis, seeded

from ..conftest import STRICT_FAILURE_WINDOW_SECONDS, STRICT_MAX_FAILED_ATTEMPTS
from ..utils.user_test_helper import (
    LOGIN_PATH,
    decode_token,
    login_failures,
    unique_email,
    user_row,
)

pytestmark = pytest.mark.anyio

MAX_FAILED_ATTEMPTS = 5
FAILURE_WINDOW_SECONDS = 15 * 60


async def test_login_api(auth_client: httpx.AsyncClient) -> None:
    async with seeded(user_row()) as user:
        response = await auth_client.post(
            LOGIN_PATH, json={"email": user.email, "password": user.password}
        )

    assert response.status_code == status.HTTP_200_OK
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0
    claims = decode_token(body["access_token"])
    assert claims["sub"] == str(user.id)


async def test_login_matches_email_case_insensitively(auth_client: httpx.AsyncClient) -> None:
    async with seeded(user_row()) as user:
        response = await auth_client.post(
            LOGIN_PATH, json={"email": f"  {user.email.upper()} ", "password": user.password}
        )

    assert response.status_code == status.HTTP_200_OK
    assert decode_token(response.json()["access_token"])["sub"] == str(user.id)


async def test_login_with_wrong_password_is_401_and_counted(
    auth_client: httpx.AsyncClient,
) -> None:
    async with seeded(user_row()) as user, seeded(login_failures(user.email)) as key:
        response = await auth_client.post(
            LOGIN_PATH, json={"email": user.email, "password": "wrong"}
        )
        failures = await redis().get(key)
        ttl = await redis().ttl(key)

    assert response.status_code == status.HTTP_401_UNAUTHORIZED
    assert response.json() == {"detail": "Invalid email or password"}
    assert "access_token" not in response.text
    assert failures is not None
    assert int(failures) == 1
    assert 0 < ttl <= FAILURE_WINDOW_SECONDS


async def test_login_with_unknown_email_is_401_like_a_wrong_password(
    auth_client: httpx.AsyncClient,
) -> None:
    email = unique_email()
    async with seeded(login_failures(email)) as key:
        response = await auth_client.post(LOGIN_PATH, json={"email": email, "password": "x"})
        failures = await redis().get(key)

    assert response.status_code == status.HTTP_401_UNAUTHORIZED
    assert response.json() == {"detail": "Invalid email or password"}
    assert failures is not None
    assert int(failures) == 1


async def test_login_for_user_without_local_password_is_401(
    auth_client: httpx.AsyncClient,
) -> None:
    """Users provisioned by the identity provider (no password hash) cannot log in here."""
    async with seeded(user_row(password=None)) as user, seeded(login_failures(user.email)):
        response = await auth_client.post(
            LOGIN_PATH, json={"email": user.email, "password": "anything"}
        )

    assert response.status_code == status.HTTP_401_UNAUTHORIZED


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "someone@example.test"},
        {"password": "secret"},
        {"email": "not-an-email", "password": "secret"},
        {"email": "someone@example.test", "password": ""},
        {"email": 42, "password": "secret"},
    ],
    ids=["empty", "no-password", "no-email", "malformed-email", "empty-password", "email-type"],
)
async def test_login_with_invalid_body_is_422(
    auth_client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await auth_client.post(LOGIN_PATH, json=body)

    assert response.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT


async def test_login_is_429_with_retry_after_after_five_failures(
    auth_client: httpx.AsyncClient,
) -> None:
    async with seeded(user_row()) as user, seeded(login_failures(user.email)):
        failures = [
            await auth_client.post(LOGIN_PATH, json={"email": user.email, "password": "wrong"})
            for _ in range(MAX_FAILED_ATTEMPTS)
        ]
        locked = await auth_client.post(
            LOGIN_PATH, json={"email": user.email, "password": user.password}
        )

    assert [r.status_code for r in failures] == [status.HTTP_401_UNAUTHORIZED] * 5
    assert locked.status_code == status.HTTP_429_TOO_MANY_REQUESTS
    assert 0 < int(locked.headers["Retry-After"]) <= FAILURE_WINDOW_SECONDS
    assert "access_token" not in locked.text


async def test_lockout_is_per_email(auth_client: httpx.AsyncClient) -> None:
    async with (
        seeded(user_row(), user_row()) as (locked_user, other_user),
        seeded(login_failures(locked_user.email, count=MAX_FAILED_ATTEMPTS)),
        seeded(login_failures(other_user.email)),
    ):
        locked = await auth_client.post(
            LOGIN_PATH, json={"email": locked_user.email, "password": locked_user.password}
        )
        other = await auth_client.post(
            LOGIN_PATH, json={"email": other_user.email, "password": other_user.password}
        )

    assert locked.status_code == status.HTTP_429_TOO_MANY_REQUESTS
    assert other.status_code == status.HTTP_200_OK


async def test_retry_after_is_the_remaining_window(auth_client: httpx.AsyncClient) -> None:
    async with (
        seeded(user_row()) as user,
        seeded(login_failures(user.email, count=MAX_FAILED_ATTEMPTS, ttl_seconds=42)),
    ):
        response = await auth_client.post(
            LOGIN_PATH, json={"email": user.email, "password": user.password}
        )

    assert response.status_code == status.HTTP_429_TOO_MANY_REQUESTS
    assert 0 < int(response.headers["Retry-After"]) <= 42


async def test_fewer_than_five_failures_do_not_lock_and_success_resets_them(
    auth_client: httpx.AsyncClient,
) -> None:
    async with (
        seeded(user_row()) as user,
        seeded(login_failures(user.email, count=MAX_FAILED_ATTEMPTS - 1)) as key,
    ):
        response = await auth_client.post(
            LOGIN_PATH, json={"email": user.email, "password": user.password}
        )
        remaining = await redis().exists(key)

    assert response.status_code == status.HTTP_200_OK
    assert remaining == 0


async def test_lockout_threshold_and_window_come_from_settings(
    strict_auth_client: httpx.AsyncClient,
) -> None:
    async with seeded(user_row()) as user, seeded(login_failures(user.email)) as key:
        for _ in range(STRICT_MAX_FAILED_ATTEMPTS):
            await strict_auth_client.post(
                LOGIN_PATH, json={"email": user.email, "password": "wrong"}
            )
        locked = await strict_auth_client.post(
            LOGIN_PATH, json={"email": user.email, "password": user.password}
        )
        ttl = await redis().ttl(key)

    assert locked.status_code == status.HTTP_429_TOO_MANY_REQUESTS
    assert 0 < ttl <= STRICT_FAILURE_WINDOW_SECONDS
    assert 0 < int(locked.headers["Retry-After"]) <= STRICT_FAILURE_WINDOW_SECONDS
