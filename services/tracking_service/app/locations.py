"""Data functions for courier locations: history in MongoDB, the latest one in Redis.

Redis answers "where is courier N now" in O(1) and forgets couriers that stopped reporting (TTL);
MongoDB keeps every fix for the track. The Redis write is conditional (a Lua script compares the
timestamps) so a late, out-of-order message never replaces a newer position.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import redis.asyncio
from motor.motor_asyncio import AsyncIOMotorCollection
from pydantic import AwareDatetime, BaseModel

from shared.events import CourierLocationEvent, utc_timestamp

__all__ = [
    "LOCATIONS_COLLECTION",
    "StoredLocation",
    "append_location",
    "ensure_location_indexes",
    "get_latest_location",
    "get_track",
    "latest_location_key",
    "store_latest_location",
]

LOCATIONS_COLLECTION = "courier_locations"

_SET_IF_NEWER = """
local current = redis.call('GET', KEYS[1])
if current then
    local ok, decoded = pcall(cjson.decode, current)
    if ok and type(decoded) == 'table' and decoded['recorded_at'] and
            decoded['recorded_at'] > ARGV[2] then
        return 0
    end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
"""


class StoredLocation(BaseModel):
    """A location as the API returns it."""

    user_id: int
    lat: float
    lon: float
    accuracy: float | None
    recorded_at: AwareDatetime


def latest_location_key(user_id: int) -> str:
    """The Redis key holding *user_id*'s latest location (JSON)."""
    return f"tracking:couriers:{user_id}:latest"


async def ensure_location_indexes(*, collection: AsyncIOMotorCollection[Any]) -> None:
    """The track query's index: one courier's fixes, newest first."""
    await collection.create_index([("user_id", 1), ("recorded_at", -1)])


async def append_location(
    *, collection: AsyncIOMotorCollection[Any], event: CourierLocationEvent
) -> None:
    """Append *event* to the history (one document per fix, never updated)."""
    document = event.model_dump() | {"received_at": datetime.now(UTC)}
    await collection.insert_one(document)


async def store_latest_location(
    *, client: redis.asyncio.Redis, event: CourierLocationEvent, ttl_seconds: int
) -> bool:
    """Store *event* as the courier's latest unless a newer one is already there.

    :returns: whether the stored value changed.
    """
    stored = await client.eval(
        _SET_IF_NEWER,
        1,
        latest_location_key(event.user_id),
        event.model_dump_json(),
        utc_timestamp(event.recorded_at),
        str(ttl_seconds),
    )
    return bool(stored)


async def get_latest_location(
    *, client: redis.asyncio.Redis, user_id: int
) -> StoredLocation | None:
    """*user_id*'s latest location, or ``None`` when none arrived within the TTL."""
    raw = await client.get(latest_location_key(user_id))
    return None if raw is None else StoredLocation.model_validate_json(raw)


async def get_track(
    *, collection: AsyncIOMotorCollection[Any], user_id: int, limit: int
) -> list[StoredLocation]:
    """Up to *limit* of *user_id*'s locations, newest first."""
    cursor = (
        collection.find({"user_id": user_id}, {"_id": 0, "received_at": 0})
        .sort([("recorded_at", -1), ("_id", -1)])
        .limit(limit)
    )
    return [StoredLocation.model_validate(document) async for document in cursor]
