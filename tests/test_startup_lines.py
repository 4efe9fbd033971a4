"""Each resource's startup line (``harness: postgres  local  PostgreSQL 15 ...  ready in 0.8 s``)
reaches the terminal in every way pytest is usually run, with output captured (no ``-s``): it is
written with capture suspended when the servers start, and under xdist, where the workers start
them, in a ``harness`` section of the summary."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

InnerRun = Callable[..., pytest.RunResult]

# the inner runs join this session's servers: make this session start the ones they use
pytestmark = [pytest.mark.inner, pytest.mark.usefixtures("postgres_url", "redis_url")]

USES_TWO_RESOURCES = """
import pytest, harness

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("n", [1, 2])
async def test_uses_postgres_and_redis(n, postgres_url, redis_url):
    assert await harness.redis().ping()
    assert await harness.postgres().fetchval("SELECT 1") == 1
"""

MODES = {"plain": [], "quiet": ["-q"], "verbose": ["-v"], "two workers": ["-n", "2"]}


def startup_line(resource: str) -> str:
    """A startup line as :class:`harness._infra.StartLine` renders it (this session's servers
    are shared with the inner run)."""
    return (
        rf"harness: {resource} +\w+ +\S.* +(\d+\.){{3}}\d+:\d+ +(shared \(|reused \()?ready in \d"
    )


@pytest.mark.parametrize("mode", MODES)
def test_every_resource_s_startup_line_reaches_the_terminal(
    mode: str, pytester: pytest.Pytester, inner_pytest: InnerRun
) -> None:
    pytester.makepyfile(test_two=USES_TWO_RESOURCES)
    result = inner_pytest(*MODES[mode])
    result.assert_outcomes(passed=2)
    for resource in ("postgres", "redis"):
        found = [line for line in result.outlines if re.match(startup_line(resource), line)]
        assert found, f"no startup line for {resource} in:\n{result.stdout.str()}"
    assert not any(re.match(startup_line("mongo"), line) for line in result.outlines), (
        "a resource no test needs was started"
    )
    if mode == "two workers":  # the workers started them: the lines come in the summary
        result.stdout.re_match_lines([r"=+ harness =+", startup_line("postgres")])
