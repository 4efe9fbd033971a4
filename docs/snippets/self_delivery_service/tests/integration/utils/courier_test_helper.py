"""Seeds and builders for the self-delivery tests.

Seeds write through the harness's own raw clients (``postgres()`` here), never through the
service's repositories, so a bug in a repository cannot hide a failing test.
"""

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import jwt

from harness import postgres, seed


# --8<-- [start:seeds]
@seed
async def user_row(external_id: UUID | None = None) -> AsyncIterator[int]:
    """A ``marten.users`` row; yields its id."""
    user_id: int = await postgres().fetchval(
        "INSERT INTO marten.users (external_id) VALUES ($1) RETURNING id", external_id or uuid4()
    )
    yield user_id  # the test runs here
    await postgres().execute("DELETE FROM marten.users WHERE id = $1", user_id)


@seed
async def courier_row(user_id: int, status: str = "offline") -> AsyncIterator[int]:
    """A ``self_delivery.couriers`` row for *user_id*; yields the user id."""
    await postgres().execute(
        "INSERT INTO self_delivery.couriers (user_id, status) VALUES ($1, $2)", user_id, status
    )
    yield user_id
    await postgres().execute("DELETE FROM self_delivery.couriers WHERE user_id = $1", user_id)


# --8<-- [end:seeds]


def build_authorization_headers(user_id: int) -> dict[str, str]:
    """A bearer token for *user_id*, signed with the test secret from ``.env.test``."""
    now = datetime.now(UTC)
    token = jwt.encode(
        {"sub": str(user_id), "iat": now, "exp": now + timedelta(minutes=5)},
        os.environ["JWT-SECRET-KEY"],
        algorithm=os.environ.get("JWT-ALGORITHM", "HS256"),
    )
    return {"Authorization": f"Bearer {token}"}


def build_location_body(lat: float = 52.520008, lon: float = 13.404954) -> dict[str, float]:
    return {"lat": lat, "lon": lon, "accuracy": 7.5}
