"""End to end: log in with auth, report a location to self-delivery, read it back from tracking.

No shortcut between the services: the token comes from ``/auth/login``, the location travels
through the real exchange and queue, and tracking serves what its consumer stored.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import status

from harness import eventually, seeded
from services.auth_service.tests.integration.utils.user_test_helper import user_row
from services.self_delivery_service.tests.integration.utils.courier_test_helper import (
    build_location_body,
    courier_row,
)

from ..utils.location_test_helper import location_path, track_path, tracked_courier

pytestmark = pytest.mark.anyio


async def test_courier_location_flows_from_login_to_tracking(
    auth_client: httpx.AsyncClient,
    self_delivery_client: httpx.AsyncClient,
    tracking_consumer_client: httpx.AsyncClient,
) -> None:
    async with (
        seeded(user_row()) as user,
        seeded(courier_row(user.id, "online")),
        seeded(tracked_courier(user.id)),
    ):
        login = await auth_client.post(
            "/auth/login", json={"email": user.email, "password": user.password}
        )
        assert login.status_code == status.HTTP_200_OK, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

        posted = await self_delivery_client.post(
            "/courier/location", headers=headers, json=build_location_body(lat=59.33, lon=18.06)
        )
        assert posted.status_code == status.HTTP_204_NO_CONTENT, posted.text

        async def tracked() -> httpx.Response:
            response = await tracking_consumer_client.get(location_path(user.id), headers=headers)
            assert response.status_code == status.HTTP_200_OK, response.text
            return response

        latest = await eventually(tracked, timeout=10)
        track = await tracking_consumer_client.get(track_path(user.id), headers=headers)

    assert latest.json()["user_id"] == user.id
    assert (latest.json()["lat"], latest.json()["lon"], latest.json()["accuracy"]) == (
        59.33,
        18.06,
        7.5,
    )
    assert [(point["lat"], point["lon"]) for point in track.json()] == [(59.33, 18.06)]
    assert track.json()[0]["recorded_at"] == latest.json()["recorded_at"]  # same instant in both
