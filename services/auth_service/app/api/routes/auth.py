"""``/auth``: password login and the current user."""

from __future__ import annotations

from typing import Annotated, Literal

import anyio.to_thread
import bcrypt
from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, BeforeValidator, Field

from shared.auth import issue_access_token

from ...users import User, get_user, get_user_credentials
from ..deps import CurrentUserId, LoginLimiterDep, PoolDep, SettingsDep

router = APIRouter(prefix="/auth", tags=["auth"])


def _normalise_email(value: object) -> object:
    """Emails are stored lower-case; users type them however they like."""
    return value.strip().lower() if isinstance(value, str) else value


NormalisedEmail = Annotated[
    str,
    BeforeValidator(_normalise_email),
    Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$"),
]


class LoginRequest(BaseModel):
    """Credentials; the email is compared case-insensitively (stored lower-case)."""

    email: NormalisedEmail
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    """A bearer token for the other services."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


@router.post("/login", responses={401: {}, 429: {}})
async def login(
    body: LoginRequest, pool: PoolDep, settings: SettingsDep, limiter: LoginLimiterDep
) -> TokenResponse:
    """Exchange email + password for a JWT.

    The lock-out is checked before the password so a locked email cannot be brute-forced even
    with the right guess; unknown emails count as failures too, so probing reveals nothing.
    """
    retry_after = await limiter.retry_after(email=body.email)
    if retry_after is not None:
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail="Too many failed login attempts; try again later",
            headers={"Retry-After": str(retry_after)},
        )
    credentials = await get_user_credentials(pool=pool, email=body.email)
    if credentials is None or not await _password_matches(body.password, credentials.password_hash):
        await limiter.record_failure(email=body.email)
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Invalid email or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    await limiter.reset(email=body.email)
    token = issue_access_token(user_id=credentials.id, settings=settings)
    return TokenResponse(access_token=token, expires_in=settings.jwt_expires_seconds)


@router.get("/me", responses={401: {}, 404: {}})
async def me(user_id: CurrentUserId, pool: PoolDep) -> User:
    """The user the token was issued for; 404 when that user has since been deleted."""
    user = await get_user(pool=pool, user_id=user_id)
    if user is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="User not found")
    return user


async def _password_matches(password: str, password_hash: str) -> bool:
    """bcrypt is deliberately slow: check it in a worker thread so the event loop keeps serving."""
    return await anyio.to_thread.run_sync(bcrypt.checkpw, password.encode(), password_hash.encode())
