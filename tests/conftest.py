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
from harness.resources import REGISTRY

pytest_plugins = ["pytester", "tests.external_servers"]
# Projects of their own, run by tests/test_memcached.py and tests/test_outside_project.py.
collect_ignore = ["memcached_project", "outside_project"]

InnerRun = Callable[..., pytest.RunResult]
CACHE_DIR = str(cache_dir())  # read now: pytester points HOME at its tmp dir during a test


# A run that starts servers of its own starts local ones, whatever backend this session uses (CI
# also runs the suite on Docker and on external servers): the tests of such runs check local
# processes. An inherited HARNESS_<RESOURCE>_URL would make it use that server instead.
RESOURCE_URLS = frozenset(resource.url_env for resource in REGISTRY.values())


def own_servers_env(env: Mapping[str, str]) -> dict[str, str]:
    """*env* for a pytest run on its own (not joined to this session's), on local servers."""
    dropped = {*RESOURCE_URLS, "HARNESS_RUN_KEY"}
    return {**{k: v for k, v in env.items() if k not in dropped}, "HARNESS_BACKEND": "local"}


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
    its own servers (local ones: see :func:`own_servers_env`).
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
            if not join:
                for key in RESOURCE_URLS:
                    patch.delenv(key, raising=False)
                extra = {"HARNESS_BACKEND": "local", **extra}
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that run inner pytests need the infrastructure to join: mark them for `-m`.
    Tests marked ``backend(...)`` for other backends than this lane's are deselected (reported
    as such, never skipped)."""
    lane = _lane(config)
    kept, deselected = [], []
    for item in items:
        if "inner_pytest" in getattr(item, "fixturenames", ()):
            item.add_marker("inner")
        marker = item.get_closest_marker("backend")
        (deselected if marker is not None and lane not in marker.args else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def _lane(config: pytest.Config) -> str:
    """The backend this run's servers come from: the forced one, else Docker if it answers."""
    from harness._stash import session_of
    from harness.backends import docker_status

    backend = session_of(config).config.backend
    if backend != "auto":
        return backend
    return "docker" if docker_status()[0] else "local"
