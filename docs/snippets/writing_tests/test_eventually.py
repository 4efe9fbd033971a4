"""eventually(): assertion-style and predicate-style checks, and the one trap (None passes)."""

import json
from uuid import uuid4

import httpx
import pytest

from harness import eventually, mongo, publish, redis, seeded
from toolbox.test_toolbox import tracked_courier

pytestmark = pytest.mark.anyio


# --8<-- [start:styles]
async def test_wait_for_what_the_consumer_stores(
    tracking_consumer_client: httpx.AsyncClient,
) -> None:
    async with seeded(tracked_courier()) as courier_id:
        await publish(
            "courier.location",
            {
                "user_id": courier_id,
                "lat": 52.5,
                "lon": 13.4,
                "recorded_at": "2026-11-25T10:00:00Z",
            },
        )

        # predicate style: 0 documents is falsy, so "not yet"; then it returns the count
        count = await eventually(
            lambda: mongo()["courier_locations"].count_documents({"user_id": courier_id}),
            timeout=10,
        )
        assert count == 1

        # redis().get() gives None until the key exists, and None means "passed":
        # a check that can return None must assert instead
        async def latest() -> bytes:
            raw = await redis().get(f"tracking:couriers:{courier_id}:latest")
            assert raw is not None, "not stored yet"
            return raw

        assert json.loads(await eventually(latest, timeout=10))["lat"] == 52.5


# --8<-- [end:styles]


# --8<-- [start:none_passes]
async def test_a_check_returning_none_passes_at_once(redis_url: str) -> None:
    missing = f"tracking:couriers:{uuid4().hex}:latest"
    assert await eventually(lambda: redis().get(missing)) is None  # no waiting at all


# --8<-- [end:none_passes]
