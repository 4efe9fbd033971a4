"""``PATCH /courier/status``: offline/online stored in PostgreSQL; 422 for anything else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import status

from harness import seeded

from ..utils.courier_test_helper import (
    COURIER_STATUS_PATH,
    FORGED_SECRET,
    build_authorization_headers,
    courier_row,
    fetch_courier,
    user_row,
)

pytestmark = pytest.mark.anyio

AN_HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)


@pytest.mark.parametrize(("before", "after"), [("offline", "online"), ("online", "offline")])
async def test_patch_status_updates_the_courier(
    self_delivery_client: httpx.AsyncClient, before: str, after: str
) -> None:
    async with seeded(user_row()) as user_id, seeded(courier_row(user_id, before, AN_HOUR_AGO)):
        response = await self_delivery_client.patch(
            COURIER_STATUS_PATH,
            headers=build_authorization_headers(user_id),
            json={"status": after},
        )
        stored = await fetch_courier(user_id)

    assert response.status_code == status.HTTP_200_OK
    assert response.json()["status"] == after
    assert response.json()["user_id"] == user_id
    assert stored is not None
    assert stored["status"] == after
    assert stored["updated_at"] > AN_HOUR_AGO


async def test_patch_status_to_same_value_still_touches_updated_at(
    self_delivery_client: httpx.AsyncClient,
) -> None:
    async with (
        seeded(user_row()) as user_id,
        seeded(courier_row(user_id, "online", AN_HOUR_AGO)),
    ):
        response = await self_delivery_client.patch(
            COURIER_STATUS_PATH,
            headers=build_authorization_headers(user_id),
            json={"status": "online"},
        )
        stored = await fetch_courier(user_id)

    assert response.status_code == status.HTTP_200_OK
    assert stored is not None
    assert stored["updated_at"] > AN_HOUR_AGO


@pytest.mark.parametrize(
    "body",
    [{"status": "busy"}, {"status": "ONLINE"}, {"status": None}, {}, {"state": "online"}],
    ids=["unknown", "wrong-case", "null", "empty", "wrong-field"],
)
async def test_patch_invalid_status_is_422_and_changes_nothing(
    self_delivery_client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    async with (
        seeded(user_row()) as user_id,
        seeded(courier_row(user_id, "offline", AN_HOUR_AGO)),
    ):
        response = await self_delivery_client.patch(
            COURIER_STATUS_PATH, headers=build_authorization_headers(user_id), json=body
        )
        stored = await fetch_courier(user_id)

    assert response.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT
    assert stored is not None
    assert (stored["status"], stored["updated_at"]) == ("offline", AN_HOUR_AGO)


async def test_patch_status_for_non_courier_is_404(
    self_delivery_client: httpx.AsyncClient,
) -> None:
    async with seeded(user_row()) as user_id:
        response = await self_delivery_client.patch(
            COURIER_STATUS_PATH,
            headers=build_authorization_headers(user_id),
            json={"status": "online"},
        )

    assert response.status_code == status.HTTP_404_NOT_FOUND


async def test_patch_status_without_token_is_401(
    self_delivery_client: httpx.AsyncClient,
) -> None:
    response = await self_delivery_client.patch(COURIER_STATUS_PATH, json={"status": "online"})

    assert response.status_code == status.HTTP_401_UNAUTHORIZED


async def test_patch_status_with_forged_token_is_401_and_changes_nothing(
    self_delivery_client: httpx.AsyncClient,
) -> None:
    async with seeded(user_row()) as user_id, seeded(courier_row(user_id, "offline")):
        response = await self_delivery_client.patch(
            COURIER_STATUS_PATH,
            headers=build_authorization_headers(user_id, secret=FORGED_SECRET),
            json={"status": "online"},
        )
        stored = await fetch_courier(user_id)

    assert response.status_code == status.HTTP_401_UNAUTHORIZED
    assert stored is not None
    assert stored["status"] == "offline"


async def test_patch_status_with_expired_token_is_401(
    self_delivery_client: httpx.AsyncClient,
) -> None:
    async with seeded(user_row()) as user_id, seeded(courier_row(user_id)):
        response = await self_delivery_client.patch(
            COURIER_STATUS_PATH,
            headers=build_authorization_headers(user_id, expires_in=timedelta(seconds=-1)),
            json={"status": "online"},
        )

    assert response.status_code == status.HTTP_401_UNAUTHORIZED
