"""Dependency aliases: handlers declare what they need, the lifespan state provides it."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends, HTTPException, Request, status

from shared.auth import CurrentUserId

from ..couriers import Courier, get_courier
from ..locations import LocationPublisher

__all__ = ["CurrentCourier", "CurrentUserId", "LocationPublisherDep", "PoolDep"]


def get_pool(request: Request) -> asyncpg.Pool:
    """This app instance's asyncpg pool."""
    pool: asyncpg.Pool = request.state.pool
    return pool


def get_location_publisher(request: Request) -> LocationPublisher:
    """This app instance's location publisher."""
    publisher: LocationPublisher = request.state.location_publisher
    return publisher


PoolDep = Annotated[asyncpg.Pool, Depends(get_pool)]
LocationPublisherDep = Annotated[LocationPublisher, Depends(get_location_publisher)]


async def require_courier(user_id: CurrentUserId, pool: PoolDep) -> Courier:
    """The caller's courier row; 404 when the authenticated user is not a courier."""
    courier = await get_courier(pool=pool, user_id=user_id)
    if courier is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="Courier not found")
    return courier


CurrentCourier = Annotated[Courier, Depends(require_courier)]
