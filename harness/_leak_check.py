"""The leak check (a pytest plugin module): what each store holds is counted before and after
every anyio test, and a test that left rows, documents or keys behind fails (or warns).

Each resource counts its own namespace through the :class:`~harness.resources.LeakCounter` it
opens; ``harness_leak_check`` (``fail``/``warn``/``off``) sets the mode for the run and
``@pytest.mark.harness_leak_check(mode)`` for one test.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterable, Mapping

import anyio
import pytest

from ._config import LEAK_MODES, LeakMode
from ._exceptions import LeakError, LeakWarning
from ._markers import marker_arg
from ._stash import session_of
from .resources import REGISTRY, LeakCounter

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
    whether or not the test uses a store."""
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


def _counters(request: pytest.FixtureRequest) -> Mapping[str, LeakCounter]:
    infra = session_of(request.config).infra
    return infra.leak_counters if infra is not None else {}


def _a_server_died(request: pytest.FixtureRequest, names: Iterable[str]) -> bool:
    """Nothing to count on a dead server (and its client could wait seconds to say so): the
    test's own failure, or the next test's, says the server died."""
    infra = session_of(request.config).infra
    return infra is not None and infra.dead_server(list(names)) is not None


@pytest.fixture(autouse=True)
def _harness_leak_check(request: pytest.FixtureRequest) -> None:
    """Run the leak check around every anyio test that has a store started."""
    if "anyio_backend" not in request.fixturenames or not _counters(request):
        return
    if leak_mode_of(request.node) != "off":
        request.getfixturevalue("_harness_leak_guard")


@pytest.fixture
async def _harness_leak_guard(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    counters = dict(_counters(request))
    before = await snapshot(counters)
    yield
    if _a_server_died(request, counters):
        return
    leaks = _leaks(before, await snapshot(counters))
    if not leaks:
        return
    message = (
        f"{request.node.name} left data behind:\n{await _describe(leaks, counters)}\n{_LEAK_HINT}"
    )
    if leak_mode_of(request.node) == "warn":
        warnings.warn(LeakWarning(message), stacklevel=1)
    else:
        raise LeakError(message)
