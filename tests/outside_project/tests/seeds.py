"""Test data: each seed inserts, yields, and deletes what it inserted."""

from __future__ import annotations

from collections.abc import AsyncIterator

from harness import postgres, redis, seed

from orders.consumer import PAID_COUNTER


# --8<-- [start:seeds]
@seed
async def order_row(customer: str = "ada", total_cents: int = 1250) -> AsyncIterator[int]:
    """An ``orders`` row; yields its id."""
    order_id: int = await postgres().fetchval(
        "INSERT INTO orders (customer, total_cents) VALUES ($1, $2) RETURNING id",
        customer,
        total_cents,
    )
    yield order_id
    await postgres().execute("DELETE FROM orders WHERE id = $1", order_id)


@seed
async def paid_counter() -> AsyncIterator[str]:
    """Creates nothing: the consumer counts paid orders in Redis. Deletes the count."""
    yield PAID_COUNTER
    await redis().delete(PAID_COUNTER)


# --8<-- [end:seeds]
