"""The rest of the toolbox: ready-made seeds, raw clients, override_env, publish + eventually."""

import json
import os
from collections.abc import AsyncIterator
from uuid import uuid4

import httpx
import pytest

from harness import (
    app_client,
    eventually,
    mongo,
    mongo_document,
    override_env,
    postgres,
    postgres_row,
    publish,
    redis,
    redis_key,
    seed,
    seeded,
)
from services.tracking_service.app.main import app as tracking_app

pytestmark = pytest.mark.anyio


# --8<-- [start:ready_made]
async def test_ready_made_seeds(postgres_url: str, mongo_url: str, redis_url: str) -> None:
    async with seeded(
        postgres_row("marten.users", email=f"ann-{uuid4().hex}@example.test"),
        mongo_document("courier_locations", user_id=7, lat=52.5, lon=13.4),
        redis_key("courier:7:last_seen", "2026-11-25T10:00:00Z", ttl=60),
    ) as (user, document, key):
        assert user["id"] > 0  # RETURNING *: generated columns are there
        assert (
            await postgres().fetchval("SELECT email FROM marten.users WHERE id = $1", user["id"])
            == user["email"]
        )
        assert await mongo()["courier_locations"].count_documents({"_id": document["_id"]}) == 1
        assert await redis().get(key) == b"2026-11-25T10:00:00Z"
    # all three are deleted again here, and the leak check confirms it after the test


# --8<-- [end:ready_made]


# --8<-- [start:override_env]
def test_override_env_restores_exactly_what_it_changed() -> None:
    before = os.environ.get("JWT-SECRET-KEY")
    with override_env({"JWT-SECRET-KEY": "x" * 32, "MONGO-DATABASE": None}):
        assert os.environ["JWT-SECRET-KEY"] == "x" * 32
        assert "MONGO-DATABASE" not in os.environ  # None removes a variable for the block
    assert os.environ.get("JWT-SECRET-KEY") == before


# --8<-- [end:override_env]


# --8<-- [start:consumer]
@seed
async def tracked_courier() -> AsyncIterator[int]:
    """A courier id whose consumer-written history and latest location are removed afterwards."""
    courier_id = uuid4().int % 2**53 + 1
    yield courier_id
    await mongo()["courier_locations"].delete_many({"user_id": courier_id})
    await redis().delete(f"tracking:couriers:{courier_id}:latest")


@pytest.fixture
async def tracking_consumer_client(
    mongo_url: str, redis_url: str, rabbitmq_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """Function-scoped: the app's background consumer lives exactly as long as one test."""
    async with app_client(tracking_app) as client:
        yield client


async def test_consumer_stores_the_latest_location(
    tracking_consumer_client: httpx.AsyncClient,
) -> None:
    async with seeded(tracked_courier()) as courier_id:
        event = {
            "user_id": courier_id,
            "lat": 48.137154,
            "lon": 11.576124,
            "accuracy": 4.0,
            "recorded_at": "2026-11-25T10:00:00.000000Z",
        }
        await publish("courier.location", event)  # to RABBITMQ-SERVICES-EXCHANGE

        async def stored() -> None:
            raw = await redis().get(f"tracking:couriers:{courier_id}:latest")
            assert raw is not None, "not stored yet"
            assert json.loads(raw)["lat"] == 48.137154

        await eventually(stored, timeout=10)  # polls; no fixed sleep


# --8<-- [end:consumer]
