"""Seeds and builders for the auth suite.

Seeds write through the harness's raw clients (``postgres()``, ``redis()``), never through the
service's data functions, so a bug there cannot hide a failing test.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import bcrypt
import jwt

from harness import postgres, redis, seed

LOGIN_PATH = "/auth/login"
ME_PATH = "/auth/me"
DEFAULT_PASSWORD = "correct horse battery staple"
FORGED_SECRET = "an-attacker-secret-long-enough-for-hs256"
"""Signs tokens the services must reject: right shape, wrong key."""


@dataclass(frozen=True)
class SeededUser:
    """A ``marten.users`` row and the clear-text password its hash was made from."""

    id: int
    external_id: UUID
    email: str
    password: str | None


def unique_email() -> str:
    """An email no other test (or xdist worker) uses."""
    return f"user-{uuid4().hex}@example.test"


@seed
async def user_row(
    email: str | None = None, password: str | None = DEFAULT_PASSWORD
) -> AsyncIterator[SeededUser]:
    """A user who can log in; ``password=None`` seeds one provisioned without a local password.

    bcrypt cost 4 keeps seeding fast: the hash format is what login checks, not its cost.
    """
    email = email or unique_email()
    password_hash = (
        None
        if password is None
        else bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    )
    row = await postgres().fetchrow(
        "INSERT INTO marten.users (external_id, email, password_hash) VALUES ($1, $2, $3) "
        "RETURNING id, external_id",
        uuid4(),
        email,
        password_hash,
    )
    yield SeededUser(id=row["id"], external_id=row["external_id"], email=email, password=password)
    await postgres().execute("DELETE FROM marten.users WHERE id = $1", row["id"])


def login_failures_key(email: str) -> str:
    """Where the service counts *email*'s failed logins (the storage contract under test)."""
    return f"auth:login-failures:{email}"


@seed
async def login_failures(email: str, count: int = 0, ttl_seconds: int = 900) -> AsyncIterator[str]:
    """*count* failed logins already recorded for *email*; the counter is removed afterwards.

    With ``count=0`` nothing is written: the seed only guarantees the counter the test creates
    through the API is deleted, so a locked-out email never leaks into another test.
    """
    key = login_failures_key(email)
    if count:
        await redis().set(key, count, ex=ttl_seconds)
    yield key
    await redis().delete(key)


def build_token(
    user_id: int,
    *,
    secret: str | None = None,
    expires_in: timedelta = timedelta(minutes=5),
) -> str:
    """A token built with PyJWT directly (not the service's helper), optionally forged/expired."""
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "iat": now, "exp": now + expires_in}
    return jwt.encode(
        claims,
        secret or os.environ["JWT-SECRET-KEY"],
        algorithm=os.environ.get("JWT-ALGORITHM", "HS256"),
    )


def build_authorization_headers(
    user_id: int, *, secret: str | None = None, expires_in: timedelta = timedelta(minutes=5)
) -> dict[str, str]:
    """``Authorization: Bearer <token>`` for *user_id* (see :func:`build_token`)."""
    token = build_token(user_id, secret=secret, expires_in=expires_in)
    return {"Authorization": f"Bearer {token}"}


def decode_token(token: str) -> dict[str, object]:
    """Verify *token* with the test secret, as another service would."""
    claims: dict[str, object] = jwt.decode(
        token, os.environ["JWT-SECRET-KEY"], algorithms=[os.environ.get("JWT-ALGORITHM", "HS256")]
    )
    return claims
