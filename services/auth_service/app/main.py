"""Auth service entry point: ``uvicorn services.auth_service.app.main:app``.

Settings and connections are created in the lifespan, not at import, so the process environment
(or the test harness) decides where PostgreSQL and Redis live right before startup.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TypedDict

import asyncpg
import redis.asyncio
from fastapi import FastAPI

from shared.connections import ensure_async_postgres_pool, ensure_async_redis_client
from shared.settings import Settings, load_settings

from .api.routes import auth
from .login_limiter import LoginLimiter


class State(TypedDict):
    """What each request sees as ``request.state`` (one instance per lifespan)."""

    settings: Settings
    pool: asyncpg.Pool
    redis: redis.asyncio.Redis
    login_limiter: LoginLimiter


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[State]:
    """Open PostgreSQL and Redis for this app instance and close them on shutdown."""
    settings = load_settings()
    async with AsyncExitStack() as stack:
        pool = await stack.enter_async_context(ensure_async_postgres_pool(settings))
        client = await stack.enter_async_context(ensure_async_redis_client(settings))
        yield State(
            settings=settings,
            pool=pool,
            redis=client,
            login_limiter=LoginLimiter(
                redis=client,
                max_failures=settings.login_max_failed_attempts,
                window_seconds=settings.login_failure_window_seconds,
            ),
        )


app = FastAPI(title="auth_service", lifespan=lifespan)
app.include_router(auth.router)
