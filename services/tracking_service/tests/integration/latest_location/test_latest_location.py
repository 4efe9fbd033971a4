"""``GET /couriers/{user_id}/location``: the latest location from Redis; 404 when none."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import status

from harness import seeded

from ..utils.location_test_helper import (
    FORGED_SECRET,
    build_authorization_headers,
    build_location_event,
    latest_location,
    location_path,
    unique_courier_id,
)

pytestmark = pytest.mark.anyio

READER_ID = 7


async def test_get_latest_location(tracking_client: httpx.AsyncClient) -> None:
    courier_id = unique_courier_id()
    async with seeded(latest_location(build_location_event(courier_id))) as event:
        response = await tracking_client.get(
            location_path(courier_id), headers=build_authorization_headers(READER_ID)
        )

    assert response.status_code == status.HTTP_200_OK
    body = response.json()
    assert body["user_id"] == courier_id
    assert (body["lat"], body["lon"], body["accuracy"]) == (event["lat"], event["lon"], 4.0)
    assert body["recorded_at"] == event["recorded_at"]


async def test_get_latest_location_without_any_is_404(tracking_client: httpx.AsyncClient) -> None:
    response = await tracking_client.get(
        location_path(unique_courier_id()), headers=build_authorization_headers(READER_ID)
    )

    assert response.status_code == status.HTTP_404_NOT_FOUND
    assert response.json() == {"detail": "No recent location"}


@pytest.mark.parametrize("courier", ["abc", "0", "-3"])
async def test_get_latest_location_with_invalid_courier_id_is_422(
    tracking_client: httpx.AsyncClient, courier: str
) -> None:
    response = await tracking_client.get(
        f"/couriers/{courier}/location", headers=build_authorization_headers(READER_ID)
    )

    assert response.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT


@pytest.mark.parametrize("token", ["missing", "forged", "expired"])
async def test_get_latest_location_without_valid_token_is_401(
    tracking_client: httpx.AsyncClient, token: str
) -> None:
    courier_id = unique_courier_id()
    headers = {
        "missing": {},
        "forged": build_authorization_headers(READER_ID, secret=FORGED_SECRET),
        "expired": build_authorization_headers(READER_ID, expires_in=timedelta(seconds=-1)),
    }[token]
    async with seeded(latest_location(build_location_event(courier_id))):
        response = await tracking_client.get(location_path(courier_id), headers=headers)

    assert response.status_code == status.HTTP_401_UNAUTHORIZED
    assert "lat" not in response.text
