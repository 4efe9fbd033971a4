"""Data functions for ``marten.users`` (keyword-only, one query each)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
from pydantic import BaseModel

__all__ = ["User", "UserCredentials", "get_user", "get_user_credentials"]


class User(BaseModel):
    """A user as the API shows it: never the password hash."""

    id: int
    external_id: UUID
    email: str | None
    created_at: datetime


class UserCredentials(BaseModel):
    """What login needs to check a password."""

    id: int
    password_hash: str


async def get_user(*, pool: asyncpg.Pool, user_id: int) -> User | None:
    """The user with *user_id*, or ``None``."""
    row = await pool.fetchrow(
        "SELECT id, external_id, email, created_at FROM marten.users WHERE id = $1", user_id
    )
    return None if row is None else User.model_validate(dict(row))


async def get_user_credentials(*, pool: asyncpg.Pool, email: str) -> UserCredentials | None:
    """Id and password hash for *email*; ``None`` when unknown or without a local password."""
    row = await pool.fetchrow(
        "SELECT id, password_hash FROM marten.users WHERE email = $1 AND password_hash IS NOT NULL",
        email,
    )
    return None if row is None else UserCredentials.model_validate(dict(row))
