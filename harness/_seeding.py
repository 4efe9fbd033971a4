"""Seeds: test data written as *insert, ``yield`` the value, delete*, cleaned up however a test
ends.

A seed's cleanup (the code after its ``yield``) runs when the ``seeded(...)`` block ends normally,
on an assertion failure, on any exception and on cancellation. It runs shielded from cancellation
and bounded by its own timeout, and its errors are reported *alongside* the test's own error,
never instead of it.
"""

from __future__ import annotations

import functools
import inspect
import reprlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Generic, ParamSpec, TypeVar, cast, final, overload

import anyio

from ._cleanup import merge_cleanup_errors
from ._exceptions import CleanupTimeoutError
from ._session import current

__all__ = ["DEFAULT_CLEANUP_TIMEOUT", "Seed", "seed", "seeded"]

DEFAULT_CLEANUP_TIMEOUT = 30.0
"""Seconds a seed's cleanup may take before it fails with :class:`CleanupTimeoutError`."""

P = ParamSpec("P")
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
T1 = TypeVar("T1")
T2 = TypeVar("T2")
T3 = TypeVar("T3")
T4 = TypeVar("T4")
T5 = TypeVar("T5")

_short = reprlib.Repr()
_short.maxstring = 40
_short.maxother = 40


# --------------------------------------------------------------------------------------------
# Seed: a description of data to create, made by calling a @seed function
# --------------------------------------------------------------------------------------------


@final
class Seed(Generic[T_co]):
    """One piece of test data, not created yet: what calling a ``@seed`` function returns.

    Nothing touches a store until the seed is entered with :func:`seeded`. A ``Seed`` can be
    entered any number of times; each entry runs the generator afresh.
    """

    __slots__ = ("_args", "_factory", "_kwargs", "cleanup_timeout")

    def __init__(
        self,
        factory: Callable[..., AsyncIterator[T_co]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        cleanup_timeout: float | None = None,
    ) -> None:
        self._factory = factory
        self._args = args
        self._kwargs = kwargs
        self.cleanup_timeout = cleanup_timeout

    @property
    def name(self) -> str:
        """The call that made this seed, shortened: ``user_row(UUID('1f0c…'))``."""
        shown = [_short.repr(arg) for arg in self._args]
        shown += [f"{key}={_short.repr(value)}" for key, value in self._kwargs.items()]
        return f"{self._factory.__qualname__}({', '.join(shown)})"

    def __repr__(self) -> str:
        return f"<Seed {self.name}>"

    def _start(self) -> AsyncIterator[T_co]:
        return self._factory(*self._args, **self._kwargs)


@overload
def seed(func: Callable[P, AsyncIterator[T]], /) -> Callable[P, Seed[T]]: ...


@overload
def seed(
    *, cleanup_timeout: float | None = None
) -> Callable[[Callable[P, AsyncIterator[T]]], Callable[P, Seed[T]]]: ...


def seed(
    func: Callable[P, AsyncIterator[T]] | None = None, /, *, cleanup_timeout: float | None = None
) -> Callable[P, Seed[T]] | Callable[[Callable[P, AsyncIterator[T]]], Callable[P, Seed[T]]]:
    """Turn an async generator (insert, ``yield`` the value, delete) into a seed factory.

    The code after ``yield`` needs no ``try/finally``: :func:`seeded` resumes the generator
    however the block ends, so the delete always runs.

    .. code-block:: python

        @seed
        async def user_row(external_id: UUID) -> AsyncIterator[int]:
            user_id = await postgres().fetchval(
                "INSERT INTO marten.users (external_id) VALUES ($1) RETURNING id", external_id
            )
            yield user_id
            await postgres().execute("DELETE FROM marten.users WHERE id = $1", user_id)

    :param func: the async generator function; it must ``yield`` exactly once.
    :param cleanup_timeout: seconds this seed's cleanup may take before it fails loudly with
        :class:`~harness.CleanupTimeoutError`, instead of hanging the run. Defaults to the
        ``harness_cleanup_timeout`` ini option (30 s).
    """

    def decorate(function: Callable[P, AsyncIterator[T]]) -> Callable[P, Seed[T]]:
        if not inspect.isasyncgenfunction(function):
            raise TypeError(
                f"@seed expects an async generator function (insert, `yield` the value, delete); "
                f"{getattr(function, '__qualname__', function)!r} is not one. Write it as "
                "`async def ...:` with exactly one `yield`."
            )

        @functools.wraps(function)
        def make(*args: P.args, **kwargs: P.kwargs) -> Seed[T]:
            return Seed(function, args, kwargs, cleanup_timeout=cleanup_timeout)

        return make

    return decorate if func is None else decorate(func)


# --------------------------------------------------------------------------------------------
# seeded(): enter in order, clean up in reverse
# --------------------------------------------------------------------------------------------


class _Entered:
    __slots__ = ("agen", "seed")

    def __init__(self, seed: Seed[Any], agen: AsyncIterator[Any]) -> None:
        self.seed = seed
        self.agen = agen


class _Seeded(AbstractAsyncContextManager[Any]):
    def __init__(self, seeds: tuple[Seed[Any], ...], cleanup_timeout: float | None) -> None:
        for item in seeds:
            _check_is_seed(item)
        self._seeds = seeds
        self._cleanup_timeout = cleanup_timeout
        self._entered: list[_Entered] | None = None

    async def __aenter__(self) -> Any:
        if self._entered is not None:
            raise RuntimeError(
                "this seeded(...) block is already entered; call seeded(...) again to create "
                "the same data a second time."
            )
        self._entered = []
        try:
            values = [await self._create(item) for item in self._seeds]
        except BaseException as exc:
            replacement = merge_cleanup_errors(exc, await self._clean_all(), "seeded(...)")
            if replacement is not None:
                raise replacement  # noqa: B904 (the cleanup's own cause must survive)
            raise
        return values[0] if len(values) == 1 else tuple(values)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        replacement = merge_cleanup_errors(exc, await self._clean_all(), "seeded(...)")
        if replacement is not None:
            raise replacement  # chained to *exc* implicitly; keeps the cleanup's own cause
        return False

    async def _create(self, item: Seed[Any]) -> Any:
        assert self._entered is not None
        agen = item._start()
        try:
            value = await agen.__anext__()
        except StopAsyncIteration:
            raise RuntimeError(
                f"seed {item.name} finished without yielding a value; a seed must `yield` "
                "exactly once, between creating its data and deleting it."
            ) from None
        self._entered.append(_Entered(item, agen))
        return value

    async def _clean_all(self) -> list[BaseException]:
        entered, self._entered = self._entered or [], None
        errors: list[BaseException] = []
        for entry in reversed(entered):
            error = await self._clean_one(entry)
            if error is not None:
                errors.append(error)
        return errors

    async def _clean_one(self, entry: _Entered) -> BaseException | None:
        timeout = _first_set(self._cleanup_timeout, entry.seed.cleanup_timeout)
        stuck: BaseException | None = None
        # Shielded from the test's cancellation, bounded by its own deadline: one scope for both.
        with anyio.CancelScope(deadline=anyio.current_time() + timeout, shield=True):
            try:
                await entry.agen.__anext__()
            except StopAsyncIteration:
                return None
            except anyio.get_cancelled_exc_class() as exc:
                stuck = exc  # our own deadline: nothing outside can reach a shielded scope
                raise
            except Exception as exc:
                return exc
            await cast(Any, entry.agen).aclose()
            return RuntimeError(
                f"seed {entry.seed.name} yielded more than once; a seed must `yield` exactly once."
            )
        error = CleanupTimeoutError(
            f"cleanup of seed {entry.seed.name} did not finish within {timeout:g} s, so the data "
            "it should delete may still exist. The traceback above shows where it was stuck. "
            "Fix the hang, or raise the bound with @seed(cleanup_timeout=...), "
            "seeded(..., cleanup_timeout=...) or the harness_cleanup_timeout ini option."
        )
        error.__cause__ = stuck
        return error


def _first_set(*timeouts: float | None) -> float:
    """The first bound given, else the session's ``harness_cleanup_timeout``."""
    found = next((t for t in timeouts if t is not None), None)
    if found is not None:
        return found
    session = current()
    return session.config.cleanup_timeout if session is not None else DEFAULT_CLEANUP_TIMEOUT


def _check_is_seed(item: object) -> None:
    if isinstance(item, Seed):
        return
    name = getattr(item, "__qualname__", None) or type(item).__qualname__
    if callable(item):
        hint = f"call it: seeded({name}(...)), and decorate it with @seed if it is not yet"
    else:
        hint = "decorate the async generator function with @seed and pass its call"
    raise TypeError(f"seeded() takes seeds, got {name!r}; {hint}.")


@overload
def seeded(
    s1: Seed[T1], /, *, cleanup_timeout: float | None = None
) -> AbstractAsyncContextManager[T1]: ...


@overload
def seeded(
    s1: Seed[T1], s2: Seed[T2], /, *, cleanup_timeout: float | None = None
) -> AbstractAsyncContextManager[tuple[T1, T2]]: ...


@overload
def seeded(
    s1: Seed[T1], s2: Seed[T2], s3: Seed[T3], /, *, cleanup_timeout: float | None = None
) -> AbstractAsyncContextManager[tuple[T1, T2, T3]]: ...


@overload
def seeded(
    s1: Seed[T1],
    s2: Seed[T2],
    s3: Seed[T3],
    s4: Seed[T4],
    /,
    *,
    cleanup_timeout: float | None = None,
) -> AbstractAsyncContextManager[tuple[T1, T2, T3, T4]]: ...


@overload
def seeded(
    s1: Seed[T1],
    s2: Seed[T2],
    s3: Seed[T3],
    s4: Seed[T4],
    s5: Seed[T5],
    /,
    *,
    cleanup_timeout: float | None = None,
) -> AbstractAsyncContextManager[tuple[T1, T2, T3, T4, T5]]: ...


@overload
def seeded(
    *seeds: Seed[Any], cleanup_timeout: float | None = None
) -> AbstractAsyncContextManager[Any]: ...


def seeded(
    *seeds: Seed[Any], cleanup_timeout: float | None = None
) -> AbstractAsyncContextManager[Any]:
    """Create seeds in order for the block, then delete them in reverse order however it ends.

    One seed gives its value, several give a tuple. If a later seed fails while being created,
    the earlier ones are still deleted. A cleanup that fails is reported together with the
    block's own error (as a note on it), never instead of it.

    .. code-block:: python

        async with seeded(user_row(uuid4()), courier_row(uuid4())) as (user_id, courier_id):
            ...
        # seeds that need an earlier one's value: nest the blocks
        async with seeded(user_row(x)) as uid, seeded(courier_row(uid)) as courier_id:
            ...

    :param seeds: seeds made by calling ``@seed`` functions, entered left to right.
    :param cleanup_timeout: seconds each seed's cleanup may take in this block, overriding the
        seed's own bound and the ``harness_cleanup_timeout`` ini option, so a hung delete fails
        with :class:`~harness.CleanupTimeoutError` instead of hanging the run.
    """
    return _Seeded(seeds, cleanup_timeout)
