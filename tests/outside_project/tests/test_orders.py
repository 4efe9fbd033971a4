from __future__ import annotations

import httpx
import pytest
from harness import seeded

from .seeds import order_row

pytestmark = pytest.mark.anyio


async def test_an_order_is_read_back(orders_client: httpx.AsyncClient) -> None:
    async with seeded(order_row(customer="ada", total_cents=1250)) as order_id:
        response = await orders_client.get(f"/orders/{order_id}")

    assert response.status_code == 200
    assert response.json() == {
        "id": order_id,
        "customer": "ada",
        "total_cents": 1250,
        "status": "new",
    }


async def test_an_unknown_order_is_404(orders_client: httpx.AsyncClient) -> None:
    response = await orders_client.get("/orders/0")

    assert response.status_code == 404
