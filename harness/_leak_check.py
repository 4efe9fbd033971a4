"""The leak check (a pytest plugin module): what each store holds is counted before and after
every anyio test, and a test that left rows, documents or keys behind fails (or warns).

Each resource counts its own namespace through the :class:`~harness.resources.LeakCounter` it
opens; ``harness_leak_check`` (``fail``/``warn``/``off``) sets the mode for the run and
``@pytest.mark.harness_leak_check(mode)`` for one test.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from ._config import LEAK_MODES, LeakMode
from ._exceptions import LeakError, LeakWarning
from ._markers import marker_arg
from ._session import current
from ._stash import session_of
from ._timeout import timeout_of, within
from .resources import REGISTRY, LeakCounter

if TYPE_CHECKING:
    from anyio.abc import TestRunner

__all__ = ["Counts", "leak_mode_of", "snapshot"]

Counts = dict[tuple[str, str], int]
"""(resource, table / collection / "keys") -> rows, documents or keys."""


def leak_mode_of(item: pytest.Item) -> LeakMode:
    """The leak check mode of *item*: its marker's, else the run's."""
    value = marker_arg(item, "harness_leak_check")
    if value is None:
        return session_of(item.config).config.leak_check
    if value not in LEAK_MODES:
        pytest.fail(
            f"{item.nodeid}: harness_leak_check({value!r}) must be one of {', '.join(LEAK_MODES)}.",
            pytrace=False,
        )
    return value


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A bad ``harness_leak_check`` marker fails its test before any fixture (or server) starts,
    whether or not the test uses a store. Also tells the leak check which test runs (it asks
    for no fixture, see :func:`_harness_leak_check`)."""
    session_of(item.config).item = item
    leak_mode_of(item)


async def snapshot(counters: Mapping[str, LeakCounter]) -> Counts:
    """Count what each resource's namespace holds, the resources concurrently."""
    counts: Counts = {}

    async def collect(name: str, counter: LeakCounter) -> None:
        counts.update({(name, what): n for what, n in (await counter.count()).items()})

    if len(counters) == 1:  # no task group: it costs as much as a count
        [(name, counter)] = counters.items()
        await collect(name, counter)
        return counts
    async with anyio.create_task_group() as group:
        for name, counter in counters.items():
            group.start_soon(collect, name, counter)
    return counts


def _leaks(before: Counts, after: Counts) -> dict[tuple[str, str], tuple[int, int]]:
    return {
        key: (before.get(key, 0), count)
        for key, count in sorted(after.items())
        if count > before.get(key, 0)
    }


async def _describe(
    leaks: dict[tuple[str, str], tuple[int, int]], counters: Mapping[str, LeakCounter]
) -> str:
    lines = []
    for (name, what), (was, now) in leaks.items():
        container, unit = REGISTRY[name].leak_units
        left = now - was
        line = (
            f"  {name} {container} {what}: {left} {unit}{'s' * (left != 1)} left "
            f"({was} before, {now} after)"
        )
        sample = await counters[name].sample(what)
        if sample:
            line += f"; {unit}s now: {', '.join(sample)}"
        lines.append(line)
    return "\n".join(lines)


_LEAK_HINT = (
    "Create test data with @seed / seeded(...) so it is deleted however the test ends, or "
    "delete what the action under test created. If the data is meant to stay, mark the test "
    "@pytest.mark.harness_leak_check('off') (or 'warn')."
)


@pytest.fixture(autouse=True)
def _harness_leak_check() -> Iterator[None]:
    """Count what each store holds before and after every anyio test that has a store started;
    fail (or warn) when a count grew.

    The "after" count is taken once the test's function-scoped fixtures are torn down, so what
    they leave counts too. It is also the next test's "before" when nothing ran in between, so a
    test costs one count (one round trip per store, the stores concurrently), not two. Anything
    that may write between two tests makes the next one count afresh: a fixture of a wider scope
    set up or torn down (:func:`pytest_fixture_setup`, :func:`pytest_fixture_post_finalizer`),
    or a test that was not checked (sync, or leak check off).

    It asks for no fixture, ``request`` included (pytest makes a new ``request`` fixture
    definition each time, which costs more than the rest of the fixture): the test comes from
    :func:`pytest_runtest_setup`.
    """
    session = current()
    assert session is not None and isinstance(session.item, pytest.Function)
    item = session.item
    baseline, session.leak_baseline = session.leak_baseline, None
    counters = session.infra.leak_counters if session.infra is not None else {}
    backend = item.funcargs.get("anyio_backend")
    if not counters or backend is None:
        yield
        return
    mode = leak_mode_of(item)
    if mode == "off":
        yield
        return
    count = functools.partial(_count, dict(counters), timeout_of(item), item.name)
    with _runner(backend) as runner:
        before = baseline if baseline is not None else runner.run_fixture(count, {})
        yield
        if session.infra is not None and session.infra.may_have_died(list(counters)) is not None:
            return  # nothing to count on a dead server: the test's failure, or the next's, says so
        after: Counts = runner.run_fixture(count, {})
        session.leak_baseline = after
        leaks = _leaks(before, after)
        if not leaks:
            return
        described = runner.run_fixture(_describe, {"leaks": leaks, "counters": counters})
    message = f"{item.name} left data behind:\n{described}\n{_LEAK_HINT}"
    if mode == "warn":
        warnings.warn(LeakWarning(message), stacklevel=1)
    else:
        raise LeakError(message)


async def _count(counters: Mapping[str, LeakCounter], limit: float, test: str) -> Counts:
    """One snapshot, bounded by the test's time limit (a stuck server fails, never hangs)."""
    if not limit:
        return await snapshot(counters)
    return await within(limit, f"the leak check of {test}", snapshot(counters))


def _runner(backend: object) -> AbstractContextManager[TestRunner]:
    """anyio's test runner: the event loop the test and its async fixtures run on."""
    from anyio.pytest_plugin import extract_backend_and_options, get_runner

    return get_runner(*extract_backend_and_options(backend))


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> None:
    """A fixture of a wider scope may write between two tests: the next one counts afresh."""
    if fixturedef.scope != "function":
        session_of(request.config).leak_baseline = None


def pytest_fixture_post_finalizer(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> None:
    if fixturedef.scope != "function":
        session_of(request.config).leak_baseline = None
