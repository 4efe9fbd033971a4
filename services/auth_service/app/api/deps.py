"""Dependency aliases: handlers declare what they need, the lifespan state provides it."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from shared.auth import CurrentUserId, get_settings
from shared.settings import Settings

from ..login_limiter import LoginLimiter

__all__ = ["CurrentUserId", "LoginLimiterDep", "PoolDep", "SettingsDep"]


def get_pool(request: Request) -> asyncpg.Pool:
    """This app instance's asyncpg pool."""
    pool: asyncpg.Pool = request.state.pool
    return pool


def get_login_limiter(request: Request) -> LoginLimiter:
    """This app instance's failed-login counter."""
    limiter: LoginLimiter = request.state.login_limiter
    return limiter


PoolDep = Annotated[asyncpg.Pool, Depends(get_pool)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
LoginLimiterDep = Annotated[LoginLimiter, Depends(get_login_limiter)]
