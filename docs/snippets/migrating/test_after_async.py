"""AFTER: the same tests with the harness. Async test, in-process httpx client, seeds."""

from uuid import uuid4

import httpx
import pytest
from fastapi import status

from harness import app_client, listen, override_env, seeded
from services.self_delivery_service.tests.integration.utils.courier_test_helper import (
    build_authorization_headers,
    build_location_body,
    courier_row,
    user_row,
)

pytestmark = pytest.mark.anyio


# --8<-- [start:after_test]
async def test_post_courier_location_returns_204(
    self_delivery_client: httpx.AsyncClient,
) -> None:
    async with seeded(user_row(uuid4())) as user_id, seeded(courier_row(user_id, "offline")):
        response = await self_delivery_client.post(
            "/courier/location",
            headers=build_authorization_headers(user_id),
            json=build_location_body(),
        )
        assert response.status_code == status.HTTP_204_NO_CONTENT


# --8<-- [end:after_test]


# --8<-- [start:after_env]
async def test_exchange_comes_from_settings_after(postgres_url: str, rabbitmq_url: str) -> None:
    from services.self_delivery_service.app.main import app

    exchange = f"services_test.{uuid4().hex}"
    with override_env({"RABBITMQ-SERVICES-EXCHANGE": exchange}):
        async with (
            app_client(app) as client,  # the lifespan reads the overridden value
            seeded(user_row()) as user_id,
            seeded(courier_row(user_id)),
            listen("courier.location", exchange=exchange) as inbox,
        ):
            response = await client.post(
                "/courier/location",
                headers=build_authorization_headers(user_id),
                json=build_location_body(),
            )
            message = await inbox.get(timeout=5)

    assert response.status_code == status.HTTP_204_NO_CONTENT
    assert message.body["user_id"] == user_id


# --8<-- [end:after_env]
