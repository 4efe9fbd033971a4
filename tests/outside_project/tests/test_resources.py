from __future__ import annotations

import os

import pytest
from harness import postgres, redis, seeded

from .seeds import order_row

pytestmark = pytest.mark.anyio


# --8<-- [start:no_fixture]
async def test_the_listed_servers_need_no_fixture() -> None:
    # harness_resources = ["postgres", "redis", "rabbitmq"]: started, variables set
    async with seeded(order_row(customer="grace")) as order_id:
        customer = await postgres().fetchval("SELECT customer FROM orders WHERE id = $1", order_id)

    assert customer == "grace"
    assert await redis().ping()
    assert os.environ["RABBITMQ-URL"].startswith("amqp://")


# --8<-- [end:no_fixture]
