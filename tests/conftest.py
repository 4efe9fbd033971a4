"""Fixtures for the framework's own tests.

Plugin behaviour is tested through ``pytester``: a real inner pytest in a subprocess. Inner runs
join *this* session's run (``HARNESS_RUN_KEY`` + ``HARNESS_STATE_DIR``), exactly as an xdist
worker would: they share its servers and get namespaces of their own, so they start in about a
second instead of starting servers again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from harness._config import HarnessConfig
from harness._ferretdb_build import cache_dir
from harness._infra import Infrastructure, reap

pytest_plugins = ["pytester", "tests.external_servers"]
collect_ignore = ["outside_project"]  # a project of its own: test_outside_project.py runs it

InnerRun = Callable[..., pytest.RunResult]
CACHE_DIR = str(cache_dir())  # read now: pytester points HOME at its tmp dir during a test


@pytest.fixture(scope="session")
def inner_env(harness_infra: Infrastructure) -> dict[str, str]:
    """Environment that makes an inner pytest join this session's run and servers."""
    return {
        "HARNESS_RUN_KEY": harness_infra.record.key,
        "HARNESS_STATE_DIR": str(harness_infra.config.state_dir),
    }


@pytest.fixture
def inner_pytest(pytester: pytest.Pytester, inner_env: dict[str, str]) -> Iterator[InnerRun]:
    """Run pytest in a subprocess inside ``pytester.path``, joined to this session's servers.

    ``inner_pytest("-q", env={...}, timeout=120)``; pass ``join=False`` for a run that must start
    its own servers.
    """

    def run(
        *args: str, env: Mapping[str, str] | None = None, join: bool = True, timeout: float = 180
    ) -> pytest.RunResult:
        extra: dict[str, Any] = {
            "HARNESS_CACHE_DIR": CACHE_DIR,
            **(inner_env if join else {}),
            **(env or {}),
        }
        with pytest.MonkeyPatch.context() as patch:
            for key in (
                "HARNESS_RUN_KEY",
                "PYTEST_XDIST_TESTRUNUID",
                "PYTEST_XDIST_WORKER",
                "PYTEST_ADDOPTS",
            ):
                patch.delenv(key, raising=False)
            for key, value in extra.items():
                patch.setenv(key, value)
            return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=timeout)

    yield run


@pytest.fixture(autouse=True)
def _reap_private_state_dirs(tmp_path: Path) -> Iterator[None]:
    """Tests that give a run its own state dir (``tmp_path / "state"``) must not leak its servers
    if they fail half-way: pytest deletes old tmp dirs, and the run records with them."""
    yield
    state = tmp_path / "state"
    if (state / "runs").is_dir():
        reap(HarnessConfig(rootdir=tmp_path, state_dir=state))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that run inner pytests need the infrastructure to join: mark them for `-m`."""
    for item in items:
        if "inner_pytest" in getattr(item, "fixturenames", ()):
            item.add_marker("inner")
