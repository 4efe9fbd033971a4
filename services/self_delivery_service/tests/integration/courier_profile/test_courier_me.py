"""``GET /courier/me``: the caller's courier row; 404 for a user who is not a courier."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import status

from harness import seeded

from ..utils.courier_test_helper import (
    COURIER_ME_PATH,
    FORGED_SECRET,
    build_authorization_headers,
    courier_row,
    user_row,
)

pytestmark = pytest.mark.anyio


async def test_get_me_returns_the_courier(self_delivery_client: httpx.AsyncClient) -> None:
    async with seeded(user_row()) as user_id, seeded(courier_row(user_id, "online")):
        response = await self_delivery_client.get(
            COURIER_ME_PATH, headers=build_authorization_headers(user_id)
        )

    assert response.status_code == status.HTTP_200_OK
    assert response.json()["user_id"] == user_id
    assert response.json()["status"] == "online"


async def test_get_me_for_non_courier_is_404(self_delivery_client: httpx.AsyncClient) -> None:
    async with seeded(user_row()) as user_id:
        response = await self_delivery_client.get(
            COURIER_ME_PATH, headers=build_authorization_headers(user_id)
        )

    assert response.status_code == status.HTTP_404_NOT_FOUND


@pytest.mark.parametrize("token", ["missing", "forged", "expired"])
async def test_get_me_without_valid_token_is_401(
    self_delivery_client: httpx.AsyncClient, token: str
) -> None:
    async with seeded(user_row()) as user_id, seeded(courier_row(user_id)):
        headers = {
            "missing": {},
            "forged": build_authorization_headers(user_id, secret=FORGED_SECRET),
            "expired": build_authorization_headers(user_id, expires_in=timedelta(seconds=-1)),
        }[token]
        response = await self_delivery_client.get(COURIER_ME_PATH, headers=headers)

    assert response.status_code == status.HTTP_401_UNAUTHORIZED
