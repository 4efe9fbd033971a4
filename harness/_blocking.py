"""Running a coroutine to completion from synchronous code (reaping at session start, a backend's
``stop`` called from a worker thread or the CLI), also where an event loop already runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, TypeVarTuple

import anyio
import sniffio

__all__ = ["run_blocking"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


def run_blocking(func: Callable[[*Ts], Awaitable[T]], *args: *Ts) -> T:
    """``anyio.run(func, *args)``; in a thread of its own when this thread runs an event loop
    (``anyio.run`` refuses to nest one loop in another)."""
    try:
        sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return anyio.run(func, *args)
    with ThreadPoolExecutor(1, thread_name_prefix="harness-blocking") as pool:
        return pool.submit(lambda: anyio.run(func, *args)).result()
