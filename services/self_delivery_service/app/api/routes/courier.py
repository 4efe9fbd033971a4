"""``/courier``: the calling courier's location, status and profile."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from shared.events import CourierLocationEvent, Latitude, Longitude

from ...couriers import Courier, CourierStatus, set_courier_status
from ..deps import CurrentCourier, LocationPublisherDep, PoolDep

router = APIRouter(prefix="/courier", tags=["courier"])


class LocationBody(BaseModel):
    """A position fix from the courier's device; accuracy in metres when known."""

    model_config = ConfigDict(extra="forbid")

    lat: Latitude
    lon: Longitude
    accuracy: float | None = Field(default=None, ge=0)


class StatusBody(BaseModel):
    """The courier's new availability."""

    model_config = ConfigDict(extra="forbid")

    status: CourierStatus


@router.post(
    "/location",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={401: {}, 404: {}},
)
async def post_location(
    body: LocationBody, courier: CurrentCourier, publisher: LocationPublisherDep
) -> None:
    """Publish the caller's position; the server's clock stamps it, not the device's."""
    event = CourierLocationEvent(
        user_id=courier.user_id, **body.model_dump(), recorded_at=datetime.now(UTC)
    )
    await publisher.publish(event=event)


@router.patch("/status", responses={401: {}, 404: {}})
async def patch_status(body: StatusBody, courier: CurrentCourier, pool: PoolDep) -> Courier:
    """Go online or offline."""
    updated = await set_courier_status(pool=pool, user_id=courier.user_id, status=body.status)
    if updated is None:  # the row was deleted between the lookup and the update
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="Courier not found")
    return updated


@router.get("/me", responses={401: {}, 404: {}})
async def get_me(courier: CurrentCourier) -> Courier:
    """The caller's courier profile."""
    return courier
