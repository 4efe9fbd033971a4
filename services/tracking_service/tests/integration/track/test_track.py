"""``GET /couriers/{user_id}/track?limit=``: the courier's history from Mongo, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import status

from harness import seeded

from ..utils.location_test_helper import (
    FORGED_SECRET,
    build_authorization_headers,
    build_location_event,
    location_history,
    track_path,
    unique_courier_id,
)

pytestmark = pytest.mark.anyio

READER_ID = 7
START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def history(courier_id: int, count: int) -> list[dict[str, object]]:
    """*count* fixes one minute apart, inserted oldest first (so order is the API's doing)."""
    return [
        build_location_event(
            courier_id, recorded_at=START + timedelta(minutes=i), lat=10 + i, lon=20 + i
        )
        for i in range(count)
    ]


async def test_track_is_newest_first(tracking_client: httpx.AsyncClient) -> None:
    courier_id = unique_courier_id()
    async with seeded(location_history(history(courier_id, 3))):
        response = await tracking_client.get(
            track_path(courier_id), headers=build_authorization_headers(READER_ID)
        )

    assert response.status_code == status.HTTP_200_OK
    body = response.json()
    assert [point["lat"] for point in body] == [12, 11, 10]
    assert [datetime.fromisoformat(point["recorded_at"]) for point in body] == [
        START + timedelta(minutes=2),
        START + timedelta(minutes=1),
        START,
    ]
    assert all(point["user_id"] == courier_id for point in body)


async def test_track_applies_limit(tracking_client: httpx.AsyncClient) -> None:
    courier_id = unique_courier_id()
    async with seeded(location_history(history(courier_id, 5))):
        response = await tracking_client.get(
            track_path(courier_id),
            params={"limit": 2},
            headers=build_authorization_headers(READER_ID),
        )

    assert response.status_code == status.HTTP_200_OK
    assert [point["lat"] for point in response.json()] == [14, 13]


async def test_track_contains_only_that_courier(tracking_client: httpx.AsyncClient) -> None:
    courier_id, other_id = unique_courier_id(), unique_courier_id()
    async with seeded(location_history(history(courier_id, 2) + history(other_id, 2))):
        response = await tracking_client.get(
            track_path(courier_id), headers=build_authorization_headers(READER_ID)
        )

    assert {point["user_id"] for point in response.json()} == {courier_id}
    assert len(response.json()) == 2


async def test_track_of_unknown_courier_is_empty(tracking_client: httpx.AsyncClient) -> None:
    response = await tracking_client.get(
        track_path(unique_courier_id()), headers=build_authorization_headers(READER_ID)
    )

    assert response.status_code == status.HTTP_200_OK
    assert response.json() == []


@pytest.mark.parametrize("limit", ["0", "-1", "501", "many"])
async def test_track_with_invalid_limit_is_422(
    tracking_client: httpx.AsyncClient, limit: str
) -> None:
    response = await tracking_client.get(
        track_path(unique_courier_id()),
        params={"limit": limit},
        headers=build_authorization_headers(READER_ID),
    )

    assert response.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT


@pytest.mark.parametrize("token", ["missing", "forged", "expired"])
async def test_track_without_valid_token_is_401(
    tracking_client: httpx.AsyncClient, token: str
) -> None:
    headers = {
        "missing": {},
        "forged": build_authorization_headers(READER_ID, secret=FORGED_SECRET),
        "expired": build_authorization_headers(READER_ID, expires_in=timedelta(seconds=-1)),
    }[token]
    response = await tracking_client.get(track_path(unique_courier_id()), headers=headers)

    assert response.status_code == status.HTTP_401_UNAUTHORIZED
