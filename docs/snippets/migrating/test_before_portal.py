"""BEFORE: the TestClient style. Sync test, TestClient portal, try/finally cleanup.

Kept runnable so the migration page shows code that really worked, not a caricature.
"""

import os
import warnings
from uuid import UUID, uuid4

import asyncpg
from fastapi import status

with warnings.catch_warnings():  # Starlette warns: TestClient on httpx is deprecated
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from services.self_delivery_service.tests.integration.utils.courier_test_helper import (
    build_authorization_headers,
    build_location_body,
)


# --8<-- [start:before_seed]
async def seed_user(external_id: UUID) -> int:
    # Not a pool from ensure_async_postgres_pool(): a pool is bound to the event loop that
    # created it, and each portal has its own loop, so one connection per call.
    connection = await asyncpg.connect(os.environ["POSTGRES-SUPABASE-URL"])
    try:
        return await connection.fetchval(
            "INSERT INTO marten.users (external_id) VALUES ($1) RETURNING id", external_id
        )
    finally:
        await connection.close()


async def seed_courier_row(user_id: int, status: str) -> None:
    connection = await asyncpg.connect(os.environ["POSTGRES-SUPABASE-URL"])
    try:
        await connection.execute(
            "INSERT INTO self_delivery.couriers (user_id, status) VALUES ($1, $2)", user_id, status
        )
    finally:
        await connection.close()


async def cleanup_courier_seed(user_id: int | None) -> None:
    if user_id is None:
        return
    connection = await asyncpg.connect(os.environ["POSTGRES-SUPABASE-URL"])
    try:
        await connection.execute("DELETE FROM self_delivery.couriers WHERE user_id = $1", user_id)
        await connection.execute("DELETE FROM marten.users WHERE id = $1", user_id)
    finally:
        await connection.close()


# --8<-- [end:before_seed]


# --8<-- [start:before_test]
def test_post_courier_location_returns_204(self_delivery_test_client: TestClient) -> None:
    user_id: int | None = None
    portal = self_delivery_test_client.portal
    assert portal is not None
    try:
        user_id = portal.call(seed_user, uuid4())
        portal.call(seed_courier_row, user_id, "offline")
        response = self_delivery_test_client.post(
            "/courier/location",
            headers=build_authorization_headers(user_id),
            json=build_location_body(),
        )
        assert response.status_code == status.HTTP_204_NO_CONTENT
    finally:
        portal.call(cleanup_courier_seed, user_id)


# --8<-- [end:before_test]


# --8<-- [start:before_env]
def test_exchange_comes_from_settings_before(postgres_url: str, rabbitmq_url: str) -> None:
    previous = os.environ.get("RABBITMQ-SERVICES-EXCHANGE")
    os.environ["RABBITMQ-SERVICES-EXCHANGE"] = f"services_test.{uuid4().hex}"
    try:
        from services.self_delivery_service.app.main import app

        with TestClient(app) as client:  # function-scoped: the lifespan reads the new value
            settings = client.app_state["settings"]
            assert settings.rabbitmq_services_exchange.startswith("services_test.")
    finally:
        if previous is None:
            del os.environ["RABBITMQ-SERVICES-EXCHANGE"]
        else:
            os.environ["RABBITMQ-SERVICES-EXCHANGE"] = previous


# --8<-- [end:before_env]
