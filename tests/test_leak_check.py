"""The leak check, run in an inner pytest joined to this session's servers: it catches a
deliberately leaking test in each store, names what was left, and is silent on clean tests."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

InnerRun = Callable[..., pytest.RunResult]

# the inner runs join this session's servers: make this session start the ones they use
pytestmark = pytest.mark.usefixtures("postgres_url", "mongo_url", "redis_url")

CONFTEST = """
import pytest
from harness import postgres

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="session")
async def leak_table(postgres_url, mongo_url, redis_url):
    await postgres().execute(
        "CREATE TABLE IF NOT EXISTS public.leak_demo (id serial PRIMARY KEY, note text)"
    )
    return "public.leak_demo"
"""

LEAKING_TESTS = """
import pytest
from harness import mongo, mongo_document, postgres, postgres_row, redis, redis_key, seeded

pytestmark = pytest.mark.anyio


async def test_leaks_a_row(leak_table):
    await postgres().execute(f"INSERT INTO {leak_table} (note) VALUES ('left behind')")


async def test_leaks_documents(leak_table):
    await mongo()["leaky"].insert_many([{"n": 1}, {"n": 2}])


async def test_leaks_a_key(leak_table):
    await redis().set("leak:key", "v")


async def test_clean_with_seeds(leak_table):
    async with seeded(
        postgres_row(leak_table, note="seeded"),
        mongo_document("leaky", n=3),
        redis_key("clean:key", "v", ttl=5),
    ):
        pass


async def test_deletes_what_it_creates(leak_table):
    await postgres().execute(f"INSERT INTO {leak_table} (note) VALUES ('temporary')")
    await postgres().execute(f"DELETE FROM {leak_table} WHERE note = 'temporary'")


@pytest.mark.harness_leak_check("off")
async def test_leaks_but_is_allowed_to(leak_table):
    await redis().set("allowed:key", "v")


@pytest.mark.harness_leak_check("warn")
async def test_leaks_with_a_warning(leak_table):
    await redis().set("warned:key", "v")


async def test_fails_and_leaks(leak_table):
    await postgres().execute(f"INSERT INTO {leak_table} (note) VALUES ('failing test')")
    assert 1 == 2, "the test's own failure"


def test_sync_tests_are_not_checked():
    pass
"""


@pytest.fixture
def leaking_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_leaks=LEAKING_TESTS)
    return pytester


def test_catches_a_leak_in_each_store_and_is_silent_on_clean_tests(
    leaking_suite: pytest.Pytester, inner_pytest: InnerRun
) -> None:
    result = inner_pytest("-p", "no:randomly", "-rA", "-W", "default::harness.LeakWarning")
    result.assert_outcomes(passed=8, failed=1, errors=4, warnings=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaks_a_row*",
            "*LeakError: test_leaks_a_row left data behind:",
            "*  postgres table public.leak_demo: 1 row left (0 before, 1 after)",
        ],
        consecutive=False,
    )
    result.stdout.fnmatch_lines(["*  mongo collection leaky: 2 documents left (0 before, 2 after)"])
    result.stdout.fnmatch_lines(
        ["*  redis database *: 1 key left (0 before, 1 after); keys now: leak:key"]
    )
    result.stdout.fnmatch_lines(["*harness_leak_check('off')*"])  # the hint says how to opt out
    for clean in ("test_clean_with_seeds", "test_deletes_what_it_creates", "test_sync_tests"):
        assert f"ERROR at teardown of {clean}" not in out
    assert "ERROR at teardown of test_leaks_but_is_allowed_to" not in out
    result.stdout.fnmatch_lines(["*LeakWarning: test_leaks_with_a_warning left data behind:*"])
    # a failing test that also leaked reports both
    result.stdout.fnmatch_lines(
        ["FAILED *test_fails_and_leaks - AssertionError: the test's own f*"]
    )
    result.stdout.fnmatch_lines(["ERROR *test_fails_and_leaks*LeakError*"])


def test_mode_off_from_the_command_line_disables_it(
    leaking_suite: pytest.Pytester, inner_pytest: InnerRun
) -> None:
    result = inner_pytest("-p", "no:randomly", "--harness-leak-check=off")
    result.assert_outcomes(passed=8, failed=1, errors=0)


def test_mode_warn_from_the_ini_file_only_warns(
    leaking_suite: pytest.Pytester, inner_pytest: InnerRun
) -> None:
    leaking_suite.makeini("[pytest]\nharness_leak_check = warn\n")
    result = inner_pytest("-p", "no:randomly", "-W", "default::harness.LeakWarning")
    result.assert_outcomes(passed=8, failed=1, errors=0, warnings=5)


def test_a_bad_mode_is_refused_at_startup(pytester: pytest.Pytester, inner_pytest: Any) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = inner_pytest("-o", "harness_leak_check=loud")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == (
        "ERROR: harness: harness_leak_check (from -o harness_leak_check=... on the command line) "
        "is 'loud'; use one of fail, warn, off."
    )


ORDERED_FIRST = """
import pytest
from harness import postgres

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
async def module_rows(leak_table):
    await postgres().execute(f"INSERT INTO {leak_table} (note) VALUES ('module'), ('module')")
    yield
    await postgres().execute(f"DELETE FROM {leak_table} WHERE note = 'module'")


@pytest.fixture
async def leaky_fixture(leak_table):
    await postgres().execute(f"INSERT INTO {leak_table} (note) VALUES ('fixture')")
    yield


async def test_1_clean(leak_table):
    pass


async def test_2_after_a_module_fixture_wrote(module_rows):
    pass


async def test_3_with_a_leaking_fixture(module_rows, leaky_fixture):
    pass


async def test_4_after_a_leak(leak_table):
    pass
"""

ORDERED_SECOND = """
import pytest
from harness import postgres

pytestmark = pytest.mark.anyio


async def test_5_after_the_module_fixture_deleted(leak_table):
    pass


async def test_6_leaks_into_a_table_it_created(leak_table):
    await postgres().execute("CREATE TABLE public.created_here (id int)")
    await postgres().execute("INSERT INTO public.created_here VALUES (1)")


async def test_7_clean_again(leak_table):
    pass
"""


def test_counts_once_per_test_yet_only_blames_the_test_that_leaked(
    pytester: pytest.Pytester, inner_pytest: InnerRun
) -> None:
    """A test's "after" count is the next one's "before": what wider fixtures write or delete
    between two tests is no leak, a function-scoped fixture's leak is, and so are rows in a
    table the test created."""
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_a_first=ORDERED_FIRST, test_b_second=ORDERED_SECOND)
    result = inner_pytest("-p", "no:randomly", "-rA")
    result.assert_outcomes(passed=7, errors=2)
    out = result.stdout.str()
    errors = sorted(set(re.findall(r"ERROR at teardown of (test_\w+)", out)))
    assert errors == ["test_3_with_a_leaking_fixture", "test_6_leaks_into_a_table_it_created"]
    result.stdout.fnmatch_lines(
        ["*  postgres table public.leak_demo: 1 row left (2 before, 3 after)*"]
    )
    result.stdout.fnmatch_lines(
        ["*  postgres table public.created_here: 1 row left (0 before, 1 after)*"]
    )
