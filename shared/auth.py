"""JWT issue/verify helpers and the FastAPI dependency that turns a bearer token into a user id.

Every service verifies tokens with the same secret (``JWT-SECRET-KEY``), so a token issued by
``auth_service`` is accepted by the others without a network call.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .exceptions import InvalidTokenError
from .settings import Settings

__all__ = [
    "CurrentUserId",
    "get_settings",
    "issue_access_token",
    "require_user_id",
    "verify_access_token",
]

_bearer = HTTPBearer(auto_error=False)


def issue_access_token(*, user_id: int, settings: Settings, now: datetime | None = None) -> str:
    """A signed token whose subject is the user id, valid for ``JWT-EXPIRES-SECONDS``."""
    issued_at = now or datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "iat": issued_at,
        "exp": issued_at + timedelta(seconds=settings.jwt_expires_seconds),
    }
    return jwt.encode(claims, settings.jwt_secret_key, algorithm=settings.jwt_algorithm)


def verify_access_token(token: str, *, settings: Settings) -> int:
    """Return the user id a valid token was issued for.

    :raises InvalidTokenError: for an expired, forged or malformed token, or a non-numeric subject.
    """
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret_key,
            algorithms=[settings.jwt_algorithm],
            options={"require": ["sub", "exp"]},
        )
        return int(claims["sub"])
    except jwt.ExpiredSignatureError as exc:
        raise InvalidTokenError("Token has expired") from exc
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise InvalidTokenError("Invalid token") from exc


def get_settings(request: Request) -> Settings:
    """The settings this app's lifespan loaded (kept in the lifespan state, not a global)."""
    settings: Settings = request.state.settings
    return settings


def require_user_id(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> int:
    """FastAPI dependency: the caller's user id, or 401 with ``WWW-Authenticate: Bearer``."""
    if credentials is None:
        raise _unauthorized("Not authenticated")
    try:
        return verify_access_token(credentials.credentials, settings=get_settings(request))
    except InvalidTokenError as exc:
        raise _unauthorized(str(exc)) from exc


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


CurrentUserId = Annotated[int, Depends(require_user_id)]
"""Dependency alias: the authenticated caller's user id."""
