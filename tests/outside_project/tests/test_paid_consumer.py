from __future__ import annotations

import os

import httpx
import pytest
from harness import eventually, publish, seeded

from .seeds import order_row, paid_counter

pytestmark = pytest.mark.anyio


# --8<-- [start:consumer]
async def test_a_paid_event_marks_the_order_paid(orders_client: httpx.AsyncClient) -> None:
    async with seeded(order_row(), paid_counter()) as (order_id, _):
        # to ORDERS-EXCHANGE: harness_exchange = "$ORDERS-EXCHANGE"
        await publish(os.environ["ORDERS-PAID-ROUTING-KEY"], {"order_id": order_id})

        async def paid() -> None:
            response = await orders_client.get(f"/orders/{order_id}")
            assert response.json()["status"] == "paid"

        await eventually(paid, timeout=10)
        stats = await orders_client.get("/stats/paid")

    assert stats.json() == {"paid": 1}


# --8<-- [end:consumer]
