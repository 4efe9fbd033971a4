"""The per-test time limit, run in inner pytests: the message says the limit and how to change
it, the test's seeds are still cleaned up, and the marker / ini / CLI settings apply."""

from __future__ import annotations

from collections.abc import Callable

import pytest

InnerRun = Callable[..., pytest.RunResult]

pytestmark = pytest.mark.usefixtures("postgres_url")

TIMED_TESTS = """
from pathlib import Path

import anyio
import pytest
from harness import postgres, postgres_row, seed, seeded

pytestmark = pytest.mark.anyio
JOURNAL = Path(__file__).with_name("journal.txt")


@seed
async def journaled(name):
    with JOURNAL.open("a") as f:
        f.write(f"+{name}\\n")
    yield name
    await anyio.sleep(0.05)  # the cleanup is shielded: it survives the cancellation
    with JOURNAL.open("a") as f:
        f.write(f"-{name}\\n")


@pytest.fixture(scope="session")
async def table(postgres_url):
    await postgres().execute("CREATE TABLE IF NOT EXISTS public.timed (id serial PRIMARY KEY)")
    return "public.timed"


@pytest.mark.harness_timeout(2)  # room to enter the seeds on a loaded machine, then hang
async def test_hangs_with_seeds(table):
    async with seeded(journaled("a"), postgres_row(table)), seeded(journaled("b")):
        await anyio.sleep_forever()


@pytest.mark.harness_timeout(5)
async def test_finishes_in_time():
    await anyio.sleep(0.01)


async def test_uses_the_run_limit():
    await anyio.sleep(0.6)


@pytest.mark.harness_timeout(0)
async def test_without_limit():
    await anyio.sleep(0.6)
"""


@pytest.fixture
def timed_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_timed=TIMED_TESTS)
    return pytester


def test_a_test_over_its_limit_fails_clearly_and_its_seeds_are_cleaned_up(
    timed_suite: pytest.Pytester, inner_pytest: InnerRun
) -> None:
    result = inner_pytest("-p", "no:randomly", "--harness-timeout=0.3")
    # the leak check would add an error if the postgres_row had not been deleted
    result.assert_outcomes(passed=2, failed=2, errors=0)
    result.stdout.fnmatch_lines(
        [
            "*TimeLimitExceededError: test_hangs_with_seeds exceeded its time limit of 2 s and "
            "was cancelled. Its seeds and clients were cleaned up. Change the limit with "
            "@pytest.mark.harness_timeout(seconds) on the test, or harness_timeout (ini) / "
            "--harness-timeout for the run; 0 means no limit.",
        ]
    )
    result.stdout.fnmatch_lines(["*test_uses_the_run_limit exceeded its time limit of 0.3 s*"])
    journal = (timed_suite.path / "journal.txt").read_text().split()
    assert journal == ["+a", "+b", "-b", "-a"]


def test_the_limit_comes_from_the_ini_file(
    timed_suite: pytest.Pytester, inner_pytest: InnerRun
) -> None:
    timed_suite.makeini("[pytest]\nharness_timeout = 0.4\n")
    result = inner_pytest("-p", "no:randomly", "-k", "run_limit or without_limit")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_uses_the_run_limit exceeded its time limit of 0.4 s*"])


def test_the_default_limit_is_generous(
    timed_suite: pytest.Pytester, inner_pytest: InnerRun
) -> None:
    result = inner_pytest("-p", "no:randomly", "-k", "run_limit or in_time")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["harness: per-test time limit 300 s, leak check fail"])


def test_an_error_raised_while_cancelled_says_the_limit_was_hit(
    pytester: pytest.Pytester, inner_pytest: InnerRun
) -> None:
    pytester.makepyfile(
        """
        import anyio
        import pytest

        @pytest.mark.anyio
        @pytest.mark.harness_timeout(0.2)
        async def test_cleanup_code_that_raises():
            try:
                await anyio.sleep_forever()
            finally:
                raise RuntimeError("teardown code failed")
        """
    )
    result = inner_pytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*RuntimeError: teardown code failed",
            "*test_cleanup_code_that_raises had exceeded its time limit of 0.2 s*",
        ]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--harness-timeout=soon"],
            "ERROR: harness: harness_timeout (from --harness-timeout on the command line) is "
            "'soon'; give a number of seconds (0 for none).",
        ),
        (
            ["-o", "harness_cleanup_timeout=-1"],
            "ERROR: harness: harness_cleanup_timeout (from -o harness_cleanup_timeout=... on the "
            "command line) is '-1'; give a number of seconds greater than 0.",
        ),
    ],
)
def test_bad_values_are_refused_at_startup(
    pytester: pytest.Pytester, inner_pytest: InnerRun, args: list[str], message: str
) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = inner_pytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == message


def test_a_bad_marker_value_names_the_test(
    pytester: pytest.Pytester, inner_pytest: InnerRun
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.anyio
        @pytest.mark.harness_timeout("1 minute")
        async def test_marked():
            pass
        """
    )
    result = inner_pytest("-p", "no:randomly")
    result.stdout.fnmatch_lines(["*test_marked: harness_timeout('1 minute') needs a number*"])


FIXTURE_TESTS = """
from pathlib import Path

import anyio
import pytest
from harness import seed, seeded

pytestmark = pytest.mark.anyio
JOURNAL = Path(__file__).with_name("journal.txt")


@seed
async def journaled(name):
    with JOURNAL.open("a") as f:
        f.write(f"+{name}\\n")
    yield name
    with JOURNAL.open("a") as f:
        f.write(f"-{name}\\n")


@pytest.fixture
async def hangs_in_setup():
    async with seeded(journaled("setup")):
        await anyio.sleep_forever()
    yield  # pragma: no cover


@pytest.fixture
async def hangs_in_teardown():
    async with seeded(journaled("teardown")):
        yield "value"
        await anyio.sleep_forever()


@pytest.fixture
async def quick():
    return 1


# Limits with room to enter the seeds on a loaded machine: only the hang may hit them.
@pytest.mark.harness_timeout(1)
async def test_setup_hangs(hangs_in_setup):
    pass  # pragma: no cover


@pytest.mark.harness_timeout(1)
async def test_teardown_hangs(hangs_in_teardown):
    assert hangs_in_teardown == "value"


@pytest.mark.harness_timeout(30)
async def test_quick_fixture(quick):
    assert quick == 1


class TestInAClass:
    @pytest.fixture
    async def method_fixture(self):
        return 2

    async def test_method_fixture(self, method_fixture):
        assert method_fixture == 2
"""


def test_hung_async_fixtures_are_bounded_by_the_tests_limit(
    pytester: pytest.Pytester, inner_pytest: InnerRun
) -> None:
    pytester.makepyfile(test_fixtures=FIXTURE_TESTS)
    result = inner_pytest("-p", "no:randomly")
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*TimeLimitExceededError: fixture 'hangs_in_setup' of test_setup_hangs (setup) "
            "exceeded its time limit of 1 s and was cancelled.*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*fixture 'hangs_in_teardown' of test_teardown_hangs (teardown) exceeded its time*"]
    )
    journal = (pytester.path / "journal.txt").read_text().split()
    assert journal == ["+setup", "-setup", "+teardown", "-teardown"]
