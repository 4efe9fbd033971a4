"""Message contracts between services: what a producer publishes is what a consumer validates.

Keeping the model in one place means ``self_delivery_service`` and ``tracking_service`` cannot
drift apart silently; a change here is visible to both suites.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

__all__ = [
    "CourierLocationEvent",
    "Latitude",
    "Longitude",
    "to_stored_precision",
    "utc_timestamp",
]

Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]


def utc_timestamp(moment: datetime) -> str:
    """A fixed-width UTC ISO-8601 string, so timestamps also compare correctly as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_stored_precision(moment: datetime) -> datetime:
    """UTC, truncated to milliseconds: what a BSON date keeps, so every store shows the same time."""
    return moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)


class CourierLocationEvent(BaseModel):
    """Published on ``COURIER-LOCATION-ROUTING-KEY`` each time a courier reports a position."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_id: int = Field(gt=0)
    lat: Latitude
    lon: Longitude
    accuracy: float | None = Field(default=None, ge=0)
    recorded_at: Annotated[
        AwareDatetime,
        AfterValidator(to_stored_precision),
        PlainSerializer(utc_timestamp, return_type=str, when_used="json"),
    ]
