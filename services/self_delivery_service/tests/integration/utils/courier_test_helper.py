"""Seeds and builders for the self-delivery suite, as the guide's ``courier_test_helper``.

Seeds write through the harness's raw asyncpg pool (``postgres()``), never through the service's
data functions, so a bug there cannot hide a failing test.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import aio_pika
import aio_pika.abc
import jwt

from harness import postgres, rabbitmq, seed

COURIER_LOCATION_PATH = "/courier/location"
COURIER_STATUS_PATH = "/courier/status"
COURIER_ME_PATH = "/courier/me"
FORGED_SECRET = "an-attacker-secret-long-enough-for-hs256"
"""Signs tokens the services must reject: right shape, wrong key."""


# --8<-- [start:routing]
def services_exchange() -> str:
    """The exchange the service publishes to (from ``.env.test``)."""
    return os.environ["RABBITMQ-SERVICES-EXCHANGE"]


def courier_location_routing_key() -> str:
    """The routing key of courier locations (from ``.env.test``)."""
    return os.environ.get("COURIER-LOCATION-ROUTING-KEY", "courier.location")


# --8<-- [end:routing]


# --8<-- [start:seeds]
@seed
async def user_row(external_id: UUID | None = None) -> AsyncIterator[int]:
    """A ``marten.users`` row (no login needed here); yields its id."""
    user_id: int = await postgres().fetchval(
        "INSERT INTO marten.users (external_id) VALUES ($1) RETURNING id", external_id or uuid4()
    )
    yield user_id
    await postgres().execute("DELETE FROM marten.users WHERE id = $1", user_id)


@seed
async def courier_row(
    user_id: int, status: str = "offline", updated_at: datetime | None = None
) -> AsyncIterator[int]:
    """A ``self_delivery.couriers`` row for *user_id*; yields the user id."""
    await postgres().execute(
        "INSERT INTO self_delivery.couriers (user_id, status, updated_at) "
        "VALUES ($1, $2, coalesce($3, now()))",
        user_id,
        status,
        updated_at,
    )
    yield user_id
    await postgres().execute("DELETE FROM self_delivery.couriers WHERE user_id = $1", user_id)


# --8<-- [end:seeds]


async def fetch_courier(user_id: int) -> dict[str, Any] | None:
    """The courier row as stored, read with the raw pool."""
    row = await postgres().fetchrow(
        "SELECT user_id, status, updated_at FROM self_delivery.couriers WHERE user_id = $1",
        user_id,
    )
    return None if row is None else dict(row)


def build_authorization_headers(
    user_id: int, *, secret: str | None = None, expires_in: timedelta = timedelta(minutes=5)
) -> dict[str, str]:
    """A bearer token for *user_id* built with PyJWT directly; forged or expired on request."""
    now = datetime.now(UTC)
    token = jwt.encode(
        {"sub": str(user_id), "iat": now, "exp": now + expires_in},
        secret or os.environ["JWT-SECRET-KEY"],
        algorithm=os.environ.get("JWT-ALGORITHM", "HS256"),
    )
    return {"Authorization": f"Bearer {token}"}


def build_location_body(
    lat: float = 52.520008, lon: float = 13.404954, accuracy: float | None = 7.5
) -> dict[str, Any]:
    """A valid ``POST /courier/location`` body (Berlin, 7.5 m accuracy by default)."""
    body: dict[str, Any] = {"lat": lat, "lon": lon}
    if accuracy is not None:
        body["accuracy"] = accuracy
    return body


@seed
async def bound_queue(exchange: str, routing_key: str) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """A private queue bound to *exchange*, to read raw AMQP properties ``listen`` abstracts."""
    channel = rabbitmq()
    topic = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(topic, routing_key=routing_key)
    yield queue
    await queue.delete(if_unused=False, if_empty=False)
