"""Failed-login counting in Redis: N failures per email within a window lock that email out.

The window is fixed from the first failure (the counter's TTL), so a locked-out user is told
exactly when to retry (``Retry-After``) and the lock-out ends on its own without a sweeper.
Counting lives in Redis, not in the process, so every replica of the service sees the same count.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio

__all__ = ["LoginLimiter"]


@dataclass(frozen=True, slots=True)
class LoginLimiter:
    """Counts failed logins per (normalised) email."""

    redis: redis.asyncio.Redis
    max_failures: int
    window_seconds: int
    prefix: str = "auth:login-failures:"

    def key(self, email: str) -> str:
        """The Redis key holding *email*'s failure count."""
        return f"{self.prefix}{email}"

    async def retry_after(self, *, email: str) -> int | None:
        """Seconds until *email* may try again, or ``None`` when it may try now."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.get(self.key(email))
            pipe.ttl(self.key(email))
            count, ttl = await pipe.execute()
        if count is None or int(count) < self.max_failures:
            return None
        return ttl if ttl > 0 else self.window_seconds

    async def record_failure(self, *, email: str) -> None:
        """Count one failure; the first one in a window starts the window's clock."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.key(email), 0, ex=self.window_seconds, nx=True)
            pipe.incr(self.key(email))
            await pipe.execute()

    async def reset(self, *, email: str) -> None:
        """Forget *email*'s failures after a successful login."""
        await self.redis.delete(self.key(email))
