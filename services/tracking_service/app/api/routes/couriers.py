"""``/couriers/{user_id}``: where a courier is now and where they have been.

Any authenticated user may read (dispatchers and customers follow couriers); the token is still
required so locations are never public.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from ...locations import StoredLocation, get_latest_location, get_track
from ..deps import CurrentUserId, LocationsDep, RedisDep

router = APIRouter(prefix="/couriers", tags=["couriers"])

CourierId = Annotated[int, Path(gt=0)]


@router.get("/{user_id}/location", responses={401: {}, 404: {}})
async def latest_location(
    user_id: CourierId, _caller: CurrentUserId, client: RedisDep
) -> StoredLocation:
    """The courier's latest location; 404 when none arrived within the TTL."""
    location = await get_latest_location(client=client, user_id=user_id)
    if location is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="No recent location")
    return location


@router.get("/{user_id}/track", responses={401: {}})
async def track(
    user_id: CourierId,
    _caller: CurrentUserId,
    locations: LocationsDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[StoredLocation]:
    """The courier's history, newest first (empty when the courier never reported)."""
    return await get_track(collection=locations, user_id=user_id, limit=limit)
