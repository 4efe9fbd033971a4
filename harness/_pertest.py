"""Per-test checks (a pytest plugin module): a time limit on every anyio test, and a leak check
that compares the stores before and after each test.

Options (read with all the others by :mod:`._config`): ``harness_timeout`` (seconds, 0 = no
limit), ``harness_leak_check`` (``fail``/``warn``/``off``), ``harness_cleanup_timeout`` (seconds a
seed's cleanup may take). Markers
``@pytest.mark.harness_timeout(seconds)`` and ``@pytest.mark.harness_leak_check(mode)`` override
them for one test (or a module / class, through ``pytestmark``).
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping
from typing import Any, TypeVar

import anyio
import pytest

from . import _accessors
from ._config import LEAK_MODES, HarnessConfig, LeakMode
from ._exceptions import LeakError, LeakWarning, TimeLimitExceededError
from ._seeding import set_default_cleanup_timeout
from .resources.redis import CLAIM_KEY

__all__ = ["count_rows", "snapshot"]

T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# options and markers
# --------------------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "harness_timeout(seconds): time limit of this test, overriding harness_timeout "
        "(0 for none)",
    )
    config.addinivalue_line(
        "markers",
        "harness_leak_check(mode): leak check of this test: 'fail', 'warn' or 'off'",
    )
    set_default_cleanup_timeout(_options(config).cleanup_timeout)


def _options(config: pytest.Config) -> HarnessConfig:
    """The run's harness config (options are read once, with the others, in :mod:`._config`)."""
    from .plugin import CONFIG_KEY

    return config.stash[CONFIG_KEY]


def _marker_arg(item: pytest.Item, name: str) -> object:
    marker = item.get_closest_marker(name)
    if marker is None:
        return None
    if len(marker.args) != 1 or marker.kwargs:
        pytest.fail(f"{item.nodeid}: use @pytest.mark.{name}(value), one argument.", pytrace=False)
    return marker.args[0]


def _timeout_of(item: pytest.Item) -> float:
    value = _marker_arg(item, "harness_timeout")
    if value is None:
        return _options(item.config).timeout
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        pytest.fail(
            f"{item.nodeid}: harness_timeout({value!r}) needs a number of seconds (0 for none).",
            pytrace=False,
        )
    return float(value)


def _leak_mode_of(item: pytest.Item) -> LeakMode:
    value = _marker_arg(item, "harness_leak_check")
    if value is None:
        return _options(item.config).leak_check
    if value not in LEAK_MODES:
        pytest.fail(
            f"{item.nodeid}: harness_leak_check({value!r}) must be one of {', '.join(LEAK_MODES)}.",
            pytrace=False,
        )
    return value


# --------------------------------------------------------------------------------------------
# per-test time limit: the test coroutine runs inside a cancel scope with a deadline
# --------------------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    original = pyfuncitem.obj
    limit = _timeout_of(pyfuncitem)
    is_anyio = "anyio_backend" in pyfuncitem.funcargs
    if not (is_anyio and limit and inspect.iscoroutinefunction(original)):
        return (yield)

    @functools.wraps(original)
    async def limited(**kwargs: Any) -> None:
        await _within(limit, pyfuncitem.name, original(**kwargs))

    pyfuncitem.obj = limited
    try:
        return (yield)
    finally:
        pyfuncitem.obj = original


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, object, object]:
    """Bound the setup and the teardown of a function-scoped async fixture of an anyio test
    by the test's limit, so a hung fixture fails instead of hanging the run. Runs before
    anyio's own hook, which then runs the wrapper on the test's event loop."""
    func = fixturedef.func
    is_async = inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)
    if not (
        is_async
        and fixturedef.scope == "function"
        and request.instance is None  # methods are bound by pytest and anyio: leave them be
        and "anyio_backend" in request.fixturenames
        and (limit := _timeout_of(request.node))
    ):
        return (yield)
    what = f"fixture {fixturedef.argname!r} of {request.node.name}"
    fixturedef.func = _limited_fixture(func, limit, what)  # type: ignore[misc]
    try:
        return (yield)
    finally:
        fixturedef.func = func  # type: ignore[misc]


def _limited_fixture(func: Callable[..., Any], limit: float, what: str) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def limited(**kwargs: Any) -> Any:
            return await _within(limit, f"{what} (setup)", func(**kwargs))

        return limited

    @functools.wraps(func)
    async def limited_generator(**kwargs: Any) -> AsyncIterator[Any]:
        steps = func(**kwargs)
        yield await _within(limit, f"{what} (setup)", steps.__anext__())
        try:
            await _within(limit, f"{what} (teardown)", steps.__anext__())
        except StopAsyncIteration:
            return
        raise RuntimeError(f"{what} yielded more than once")

    return limited_generator


_TIMEOUT_HINT = (
    "Its seeds and clients were cleaned up. Change the limit with "
    "@pytest.mark.harness_timeout(seconds) on the test, or harness_timeout (ini) / "
    "--harness-timeout for the run; 0 means no limit."
)


async def _within(limit: float, what: str, step: Awaitable[T]) -> T:
    """Await *step* with a deadline; past it, cancel it and fail saying the limit and the fix."""
    with anyio.CancelScope(deadline=anyio.current_time() + limit) as scope:
        try:
            return await step
        except BaseException as exc:
            if scope.cancel_called and not isinstance(exc, anyio.get_cancelled_exc_class()):
                exc.add_note(f"{what} had exceeded its time limit of {limit:g} s. {_TIMEOUT_HINT}")
            raise
    raise TimeLimitExceededError(
        f"{what} exceeded its time limit of {limit:g} s and was cancelled. {_TIMEOUT_HINT}"
    )


# --------------------------------------------------------------------------------------------
# leak check: count what the stores hold before and after each anyio test
# --------------------------------------------------------------------------------------------

Counts = dict[tuple[str, str], int]
"""(store, table / collection / "keys") -> rows, documents or keys."""

_USER_TABLES = r"""
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname <> 'alembic_version'
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
"""
# Changes when a user table is created or dropped (a rename is caught by the statement failing).
_FINGERPRINT = (
    "SELECT coalesce(hashtext(string_agg(c.oid::text, ',' ORDER BY c.oid)), 0)::bigint"
    + _USER_TABLES
)
_BUILD_COUNTS = (
    f"SELECT ({_FINGERPRINT}) AS fingerprint, string_agg(format("
    "'SELECT %L AS name, count(*) AS n FROM %I.%I', "
    "format('%I.%I', n.nspname, c.relname), n.nspname, c.relname), ' UNION ALL ') AS counts"
    + _USER_TABLES
)
_counts_statement: tuple[object, int, str] | None = None
"""(pool, fingerprint, statement): the exact-count statement for the current set of tables."""
_own_connection: Any = None
"""The leak check's own PostgreSQL connection: a pool acquire + release (with its reset
round trip) costs several times the count itself (see bench/leak_check_cost.py)."""


async def count_rows() -> Counts:
    """Exact rows per user table of this session's PostgreSQL database (``alembic_version``
    excluded), in one round trip: one ``count(*)`` per table in a single ``UNION ALL``
    statement, rebuilt only when the set of tables changes."""
    global _counts_statement
    from asyncpg.exceptions import UndefinedTableError

    pool = _own_connection or _accessors.postgres()
    for _ in range(2):
        if _counts_statement is None or _counts_statement[0] is not pool:
            built = await pool.fetchrow(_BUILD_COUNTS)
            counts = f" UNION ALL {built['counts']}" if built["counts"] else ""
            statement = f"SELECT '' AS name, ({_FINGERPRINT}) AS n{counts}"
            _counts_statement = (pool, built["fingerprint"], statement)
        _, fingerprint, statement = _counts_statement
        try:
            rows = {row["name"]: row["n"] for row in await pool.fetch(statement)}
        except UndefinedTableError:  # a table was renamed or dropped since it was built
            rows = {}
        if rows.pop("", None) == fingerprint:
            break
        _counts_statement = None  # the tables changed: build the statement again
    return {("postgres", name): count for name, count in rows.items()}


async def _count_documents() -> Counts:
    database = _accessors.mongo()
    counts: Counts = {}

    async def count(name: str) -> None:
        counts[("mongo", name)] = await database[name].estimated_document_count()

    async with anyio.create_task_group() as group:
        for name in await database.list_collection_names():
            if not name.startswith("system."):
                group.start_soon(count, name)
    return counts


async def _count_keys() -> Counts:
    # The namespace's claim key is the harness's own, not the test's: it is not counted.
    async with _accessors.redis().pipeline(transaction=False) as pipe:
        pipe.dbsize()
        pipe.exists(CLAIM_KEY)
        size, claim = await pipe.execute()
    return {("redis", "keys"): int(size) - int(claim)}


_COUNTERS: Mapping[str, Callable[[], Awaitable[Counts]]] = {
    "postgres": count_rows,
    "mongo": _count_documents,
    "redis": _count_keys,
}


async def snapshot(stores: frozenset[str]) -> Counts:
    """Count what each of *stores* holds, the stores concurrently."""
    counters = [_COUNTERS[store] for store in sorted(stores & _COUNTERS.keys())]
    if len(counters) == 1:
        return await counters[0]()  # no task group: it costs as much as a count
    counts: Counts = {}

    async def collect(counter: Callable[[], Awaitable[Counts]]) -> None:
        counts.update(await counter())

    async with anyio.create_task_group() as group:
        for counter in counters:
            group.start_soon(collect, counter)
    return counts


def _leaks(before: Counts, after: Counts) -> dict[tuple[str, str], tuple[int, int]]:
    return {
        key: (before.get(key, 0), count)
        for key, count in sorted(after.items())
        if count > before.get(key, 0)
    }


_UNITS = {"postgres": ("table", "row"), "mongo": ("collection", "document")}


async def _describe_leaks(leaks: dict[tuple[str, str], tuple[int, int]]) -> str:
    lines = []
    for (store, name), (was, now) in leaks.items():
        left = now - was
        if store == "redis":
            keys = [key async for key in _accessors.redis().scan_iter(count=100)]
            names = [k.decode() if isinstance(k, bytes) else str(k) for k in keys]
            shown = ", ".join([n for n in names if n != CLAIM_KEY][:10])
            lines.append(
                f"  redis: {left} key{'s' * (left != 1)} left ({was} before, {now} after); "
                f"keys now: {shown}"
            )
            continue
        kind, unit = _UNITS[store]
        lines.append(
            f"  {store} {kind} {name}: {left} {unit}{'s' * (left != 1)} left "
            f"({was} before, {now} after)"
        )
    return "\n".join(lines)


_LEAK_HINT = (
    "Create test data with @seed / seeded(...) so it is deleted however the test ends, or "
    "delete what the action under test created. If the data is meant to stay, mark the test "
    "@pytest.mark.harness_leak_check('off') (or 'warn')."
)


@pytest.fixture(autouse=True)
def _harness_leak_check(request: pytest.FixtureRequest) -> None:
    """Run the leak check around every anyio test that has a store started."""
    if "anyio_backend" not in request.fixturenames or not _stores_to_check():
        return
    if _leak_mode_of(request.node) != "off":
        if "postgres" in _stores_to_check():
            request.getfixturevalue("_harness_leak_postgres")
        request.getfixturevalue("_harness_leak_guard")


@pytest.fixture(scope="session")
async def _harness_leak_postgres(postgres_url: str) -> AsyncIterator[None]:
    """Open the leak check's own connection once per session (see ``_own_connection``)."""
    global _own_connection
    import asyncpg

    connection = await asyncpg.connect(postgres_url)
    _own_connection = connection
    try:
        yield
    finally:
        _own_connection = None
        with anyio.CancelScope(shield=True):
            await connection.close()


def _stores_to_check() -> frozenset[str]:
    return _accessors.started() & _COUNTERS.keys()


@pytest.fixture
async def _harness_leak_guard(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    stores = _stores_to_check()
    before = await snapshot(stores)
    yield
    leaks = _leaks(before, await snapshot(stores))
    if not leaks:
        return
    message = f"{request.node.name} left data behind:\n{await _describe_leaks(leaks)}\n{_LEAK_HINT}"
    if _leak_mode_of(request.node) == "warn":
        warnings.warn(LeakWarning(message), stacklevel=1)
    else:
        raise LeakError(message)


@pytest.hookimpl(trylast=True)
def pytest_report_header(config: pytest.Config) -> str | None:
    options = _options(config)
    limit = f"{options.timeout:g} s" if options.timeout else "none"
    return f"harness: per-test time limit {limit}, leak check {options.leak_check}"
