"""The orders app: PostgreSQL through an asyncpg pool, Redis, and a RabbitMQ consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
import asyncpg
from fastapi import FastAPI, HTTPException, Request
from redis.asyncio import Redis

from orders.consumer import PAID_COUNTER, start_paid_consumer
from shared.settings import get_settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    settings = get_settings()  # first call in this process: the variables are set by now
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=4)
    cache = Redis.from_url(settings.redis_url)
    connection = await aio_pika.connect_robust(settings.rabbitmq_url)
    try:
        await start_paid_consumer(connection, pool, cache, settings)
        yield {"pool": pool, "cache": cache}
    finally:
        await connection.close()
        await cache.aclose()
        await pool.close()


app = FastAPI(title="orders", lifespan=lifespan)


@app.get("/ping")
async def ping() -> dict[str, bool]:
    return {"pong": True}


@app.get("/health/database")
async def database(request: Request) -> dict[str, str]:
    """Which database the app's pool talks to."""
    name = await request.state.pool.fetchval("SELECT current_database()")
    return {"database": name}


@app.get("/orders/{order_id}")
async def get_order(order_id: int, request: Request) -> dict[str, Any]:
    row = await request.state.pool.fetchrow(
        "SELECT id, customer, total_cents, status FROM orders WHERE id = $1", order_id
    )
    if row is None:
        raise HTTPException(status_code=404, detail="order not found")
    return dict(row)


@app.get("/stats/paid")
async def paid_count(request: Request) -> dict[str, int]:
    return {"paid": int(await request.state.cache.get(PAID_COUNTER) or 0)}
