"""``mongo()``, ``mongo_document`` and the Mongo leak check work with both async drivers:
PyMongo's ``AsyncMongoClient`` and motor, as ``harness_mongo_driver`` chooses (inner pytests
joined to this session's MongoDB); a chosen driver that is missing is an error naming the fix."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness._infra import Infrastructure
from harness.backends import BACKENDS

InnerRun = Callable[..., pytest.RunResult]

# the inner runs join this session's servers: make this session start MongoDB
pytestmark = pytest.mark.usefixtures("mongo_url")

DRIVER_TESTS = """
import os
from uuid import uuid4

import pytest
from harness import mongo, mongo_document, seeded

pytestmark = pytest.mark.anyio


async def test_the_client_is_the_chosen_drivers(mongo_url):
    module = type(mongo()).__module__
    assert module.split(".")[0] == os.environ["EXPECTED_DRIVER"], module


async def test_mongo_document_inserts_returns_it_with_its_id_and_deletes_it(mongo_url):
    marker = uuid4().hex
    async with seeded(mongo_document("locations", {"courier-id": marker}, lat=52.5)) as document:
        assert document["lat"] == 52.5 and document["courier-id"] == marker
        stored = await mongo()["locations"].find_one({"_id": document["_id"]})
        assert stored is not None and stored["courier-id"] == marker
    assert await mongo()["locations"].count_documents({"courier-id": marker}) == 0


async def test_leaks_documents(mongo_url):
    await mongo()["leaky"].insert_many([{"n": 1}, {"n": 2}])


async def test_clean_with_a_seed(mongo_url):
    async with seeded(mongo_document("leaky", n=3)):
        pass
"""

BLOCK = """
# A plugin that makes a Mongo driver look uninstalled (loaded with -p before the harness starts).
import os, sys

if os.environ.get("BLOCK_MOTOR"):
    sys.modules["motor"] = None  # `import motor` raises ImportError
if os.environ.get("BLOCK_PYMONGO_ASYNC"):
    import pymongo

    del pymongo.AsyncMongoClient  # `from pymongo import AsyncMongoClient` raises ImportError
"""


@pytest.fixture
def driver_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_driver=DRIVER_TESTS, block_driver=BLOCK)
    return pytester


@pytest.mark.parametrize(
    ("option", "blocked", "expected"),
    [
        ("pymongo", "", "pymongo"),
        ("motor", "", "motor"),
        ("auto", "", "pymongo"),  # PyMongo's async API when installed
        ("auto", "BLOCK_PYMONGO_ASYNC", "motor"),  # else motor
    ],
    ids=["pymongo", "motor", "auto-pymongo", "auto-without-async-pymongo-motor"],
)
def test_seeds_and_the_leak_check_work_with_the_chosen_driver(
    driver_suite: pytest.Pytester, inner_pytest: InnerRun, option: str, blocked: str, expected: str
) -> None:
    env = {"EXPECTED_DRIVER": expected, **({blocked: "1"} if blocked else {})}
    result = inner_pytest(
        "-p", "block_driver", "-p", "no:randomly", f"--harness-mongo-driver={option}", env=env
    )
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaks_documents*",
            "*  mongo collection leaky: 2 documents left (0 before, 2 after)",
        ],
        consecutive=False,
    )
    assert "ERROR at teardown of test_clean_with_a_seed" not in result.stdout.str()


@pytest.mark.parametrize(
    ("option", "blocked", "message"),
    [
        (
            "motor",
            {"BLOCK_MOTOR": "1"},
            "harness_mongo_driver is 'motor' but motor is not installed: pip install "
            "'harness[motor]' (or motor), or set harness_mongo_driver to pymongo or auto.",
        ),
        (
            "pymongo",
            {"BLOCK_PYMONGO_ASYNC": "1"},
            "harness_mongo_driver is 'pymongo' but the installed pymongo has no "
            "AsyncMongoClient: pip install 'pymongo>=4.9', or set harness_mongo_driver to motor.",
        ),
        (
            "auto",
            {"BLOCK_MOTOR": "1", "BLOCK_PYMONGO_ASYNC": "1"},
            "no MongoDB async driver is installed: pip install 'pymongo>=4.9' (or motor).",
        ),
    ],
    ids=["motor", "pymongo", "auto"],
)
def test_a_missing_driver_stops_the_run_naming_what_to_install(
    driver_suite: pytest.Pytester,
    inner_pytest: InnerRun,
    harness_infra: Infrastructure,
    option: str,
    blocked: dict[str, str],
    message: str,
) -> None:
    result = inner_pytest(
        "-p", "block_driver", f"--harness-mongo-driver={option}", "test_driver.py", env=blocked
    )
    assert result.ret == 3, result.stdout.str() + result.stderr.str()
    output = " ".join((result.stdout.str() + result.stderr.str()).split())
    assert "harness could not start the test infrastructure:" in output
    assert message in output
    # A run that cannot even probe the shared server (no driver at all) leaves it running for
    # the processes that can: it does not take it for dead and replace it.
    shared = harness_infra.servers["mongo"]
    assert BACKENDS[shared.backend].alive(shared)
    assert "harness: mongo" not in output
