"""Data functions for ``self_delivery.couriers`` (keyword-only, one query each)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import asyncpg
from pydantic import BaseModel

__all__ = ["Courier", "CourierStatus", "get_courier", "set_courier_status"]

CourierStatus = Literal["offline", "online"]


class Courier(BaseModel):
    """A courier row."""

    user_id: int
    status: CourierStatus
    updated_at: datetime


async def get_courier(*, pool: asyncpg.Pool, user_id: int) -> Courier | None:
    """The courier row of *user_id*, or ``None`` when that user is not a courier."""
    row = await pool.fetchrow(
        "SELECT user_id, status, updated_at FROM self_delivery.couriers WHERE user_id = $1",
        user_id,
    )
    return None if row is None else Courier.model_validate(dict(row))


async def set_courier_status(
    *, pool: asyncpg.Pool, user_id: int, status: CourierStatus
) -> Courier | None:
    """Set the status (and ``updated_at``); ``None`` when *user_id* is not a courier."""
    row = await pool.fetchrow(
        "UPDATE self_delivery.couriers SET status = $2, updated_at = now() "
        "WHERE user_id = $1 RETURNING user_id, status, updated_at",
        user_id,
        status,
    )
    return None if row is None else Courier.model_validate(dict(row))
