"""Saying once "these servers for every test": ``harness_resources`` in the ini, or the guide's
autouse ``configure_test_env`` fixture in the root conftest. A test then uses ``harness.redis()``
and the mapped variables without asking for any fixture; without either, the client's error
says how to get there."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import ResourceNotStartedError, redis
from harness._config import HarnessConfig
from harness._session import HarnessSession, activate

MESSAGE = (
    "redis() was called but this test session has no redis client. Request the `redis` (or "
    "`redis_url`) fixture from the test or one of its fixtures, or start it for every test "
    'with `harness_resources = ["redis"]` in [tool.pytest.ini_options], so the harness '
    "starts the server before the test runs."
)

NO_FIXTURE_TEST = """
import os, pytest, harness
pytestmark = pytest.mark.anyio

async def test_no_fixture_asked():
    assert os.environ["MY-REDIS-URL"].startswith("redis://")
    assert await harness.redis().ping()

def test_sync_test_too():
    assert os.environ["MY-REDIS-URL"].startswith("redis://")
"""

ENV_MAP = "harness_env_map = MY-REDIS-URL=redis\n"


def _started(result: pytest.RunResult) -> list[str]:
    return [line.split()[1] for line in result.outlines if line.startswith("harness: ")]


def test_harness_resources_starts_them_for_tests_that_ask_for_nothing(
    inner_pytest, pytester: pytest.Pytester, redis_url: str, postgres_url: str
) -> None:
    pytester.makeini(f"[pytest]\n{ENV_MAP}harness_resources = redis, postgres\n")
    pytester.makepyfile(test_nothing_asked=NO_FIXTURE_TEST)
    result = inner_pytest("-q", "-s")
    result.assert_outcomes(passed=2)
    assert _started(result) == ["postgres", "redis"]


def test_an_autouse_configure_test_env_in_the_root_conftest_does_the_same(
    inner_pytest, pytester: pytest.Pytester, redis_url: str
) -> None:
    """The guide's root conftest kept its autouse ``configure_test_env``; it now only asks for
    the harness's fixture of that name."""
    pytester.makeini(f"[pytest]\n{ENV_MAP}")
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session", autouse=True)
        def configure_test_env(configure_test_env):
            return configure_test_env
        """
    )
    pytester.makepyfile(test_nothing_asked=NO_FIXTURE_TEST)
    result = inner_pytest("-q", "-s")
    result.assert_outcomes(passed=2)
    assert _started(result) == ["redis"]


def test_without_either_the_error_says_what_to_add(
    inner_pytest, pytester: pytest.Pytester, redis_url: str
) -> None:
    pytester.makeini(f"[pytest]\n{ENV_MAP}")
    pytester.makepyfile(
        test_forgot="""
        import pytest, harness
        pytestmark = pytest.mark.anyio

        async def test_forgot():
            await harness.redis().ping()
        """
    )
    result = inner_pytest("-q")
    result.assert_outcomes(failed=1)
    assert _started(result) == []
    assert any(line.endswith(f"ResourceNotStartedError: {MESSAGE}") for line in result.outlines)


def test_the_message_is_exact(tmp_path: Path) -> None:
    """As troubleshooting.md quotes it (for ``postgres()``): both fixes, nothing else."""
    with (
        activate(HarnessSession(HarnessConfig(rootdir=tmp_path))),
        pytest.raises(ResourceNotStartedError) as raised,
    ):
        redis()
    assert str(raised.value) == MESSAGE


def test_a_misspelt_name_in_harness_resources_stops_the_run(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nharness_resources = redis, postgress\n")
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: harness: harness_resources names 'postgress', which is not a resource: use "
            "rabbitmq, postgres, mongo, redis, or all."
        ]
    )
