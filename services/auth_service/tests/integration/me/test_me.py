"""``GET /auth/me``: the token's user; 401 for a missing, expired or forged token."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import status

from harness import seeded

from ..utils.user_test_helper import (
    FORGED_SECRET,
    LOGIN_PATH,
    ME_PATH,
    build_authorization_headers,
    user_row,
)

pytestmark = pytest.mark.anyio


async def test_me_returns_the_logged_in_user(auth_client: httpx.AsyncClient) -> None:
    async with seeded(user_row()) as user:
        login = await auth_client.post(
            LOGIN_PATH, json={"email": user.email, "password": user.password}
        )
        token = login.json()["access_token"]
        response = await auth_client.get(ME_PATH, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == status.HTTP_200_OK
    body = response.json()
    assert body["id"] == user.id
    assert body["email"] == user.email
    assert body["external_id"] == str(user.external_id)
    assert "password_hash" not in body


async def test_me_without_token_is_401(auth_client: httpx.AsyncClient) -> None:
    response = await auth_client.get(ME_PATH)

    assert response.status_code == status.HTTP_401_UNAUTHORIZED
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_me_with_non_bearer_scheme_is_401(auth_client: httpx.AsyncClient) -> None:
    response = await auth_client.get(ME_PATH, headers={"Authorization": "Basic dXNlcjpwdw=="})

    assert response.status_code == status.HTTP_401_UNAUTHORIZED


async def test_me_with_expired_token_is_401(auth_client: httpx.AsyncClient) -> None:
    async with seeded(user_row()) as user:
        response = await auth_client.get(
            ME_PATH, headers=build_authorization_headers(user.id, expires_in=timedelta(minutes=-1))
        )

    assert response.status_code == status.HTTP_401_UNAUTHORIZED
    assert response.json() == {"detail": "Token has expired"}


async def test_me_with_forged_token_is_401(auth_client: httpx.AsyncClient) -> None:
    async with seeded(user_row()) as user:
        response = await auth_client.get(
            ME_PATH, headers=build_authorization_headers(user.id, secret=FORGED_SECRET)
        )

    assert response.status_code == status.HTTP_401_UNAUTHORIZED
    assert response.json() == {"detail": "Invalid token"}


async def test_me_with_garbage_token_is_401(auth_client: httpx.AsyncClient) -> None:
    response = await auth_client.get(ME_PATH, headers={"Authorization": "Bearer not.a.jwt"})

    assert response.status_code == status.HTTP_401_UNAUTHORIZED


async def test_me_for_deleted_user_is_404(auth_client: httpx.AsyncClient) -> None:
    async with seeded(user_row()) as user:
        headers = build_authorization_headers(user.id)

    response = await auth_client.get(ME_PATH, headers=headers)

    assert response.status_code == status.HTTP_404_NOT_FOUND
