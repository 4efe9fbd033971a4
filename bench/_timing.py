"""A pytest plugin loaded into every benchmarked run (``-p bench._timing``): it writes when the
first test began and when each test finished to the JSON file named by ``BENCH_TIMING_FILE``.

Why in-process: the runner only sees the process start and exit, and both include work that is
not per-test (interpreter start, collection, server start, server stop). Timestamps taken by pytest
itself let the runner cut startup and teardown out exactly. ``time.time()`` is used because the
runner compares them with its own clock across processes. The process's CPU time at the same
moments (and at the first test's call: the CPU its startup took) shows what the test process
itself spends, which other users' load on the machine
disturbs far less than wall time (it leaves out waiting for the servers and for a core).

With ``BENCH_PROFILE=<file>`` it also profiles the steady state with pyinstrument (from the end
of the first test to the start of the last, so neither startup nor teardown shows) and writes the
text report there (and the raw session beside it, ``<file>.pyisession``, for
``pyinstrument --load``): ``python bench/run.py --profile harness-session``.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

FILE_ENV = "BENCH_TIMING_FILE"
PROFILE_ENV = "BENCH_PROFILE"

_record: dict[str, Any] = {
    "configured": None,
    "first_call": None,
    "first_call_cpu": None,
    "finished": [],
    "cpu": [],
    "passed": 0,
    "failed": 0,
    "skipped": 0,
}
_items: list[str] = []
_profiler: Any = None


def pytest_configure(config: pytest.Config) -> None:
    _record["configured"] = time.time()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    if _record["first_call"] is None:
        _record["first_call"] = time.time()
        _record["first_call_cpu"] = time.process_time()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or report.outcome != "passed":
        _record[report.outcome] += 1


def pytest_collection_finish(session: pytest.Session) -> None:
    _items[:] = [item.nodeid for item in session.items]


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    global _profiler
    _record["finished"].append(time.time())
    _record["cpu"].append(time.process_time())
    if len(_record["finished"]) == 1 and os.environ.get(PROFILE_ENV) and len(_items) > 2:
        from pyinstrument import Profiler

        _profiler = Profiler(interval=0.0005)
        _profiler.start()


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    if _profiler is not None and _profiler.is_running and _items and nodeid == _items[-1]:
        _profiler.stop()
        path = os.environ[PROFILE_ENV]
        with open(path, "w", encoding="utf-8") as out:
            out.write(_profiler.output_text(unicode=False, color=False, show_all=False))
        _profiler.last_session.save(f"{path}.pyisession")  # for `pyinstrument --load`


def pytest_unconfigure(config: pytest.Config) -> None:
    path = os.environ.get(FILE_ENV)
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(_record, out)
