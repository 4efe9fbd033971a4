"""Dependency aliases: handlers declare what they need, the lifespan state provides it."""

from __future__ import annotations

from typing import Annotated, Any

import redis.asyncio
from fastapi import Depends, Request
from motor.motor_asyncio import AsyncIOMotorCollection

from shared.auth import CurrentUserId

__all__ = ["CurrentUserId", "LocationsDep", "RedisDep"]


def get_locations(request: Request) -> AsyncIOMotorCollection[Any]:
    """This app instance's location-history collection."""
    collection: AsyncIOMotorCollection[Any] = request.state.locations
    return collection


def get_redis(request: Request) -> redis.asyncio.Redis:
    """This app instance's Redis client."""
    client: redis.asyncio.Redis = request.state.redis
    return client


LocationsDep = Annotated[AsyncIOMotorCollection[Any], Depends(get_locations)]
RedisDep = Annotated[redis.asyncio.Redis, Depends(get_redis)]
