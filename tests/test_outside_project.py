"""The harness installs and works in a project that is not this repository.

A wheel is built from this checkout (sdist first, then the wheel from it, as a release is) and
installed into a fresh virtualenv together with ``tests/outside_project``'s own dependencies,
resolved on PyPI. That project was written from the docs alone: its own ``shared`` and
``orders`` packages, its own alembic chain whose ``env.py`` reads the URL through an
``@lru_cache``'d ``get_settings()``, hyphenated variables, a consumer, pytest-asyncio in
strict mode. Its suite passes serially and under ``-n 2``; in auto mode it stops at once.

Every virtualenv is new, and pip installs into it from PyPI, with its cache as usual (on this
project's machines the registry mirror sends no caching headers, so pip's cache stays empty).
``--no-compile`` leaves byte-compiling to the first import: done up front, it more than doubled
the install (38 s against 15 s for the project's dependencies).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from filelock import FileLock

from harness._ferretdb_build import cache_dir

ROOT = Path(__file__).resolve().parents[1]
PROJECT = Path(__file__).parent / "outside_project"
BUILD_LOCK = cache_dir() / "outside-project-build.lock"
NOT_OURS_TO_PULL = {"fastapi", "pyjwt", "bcrypt", "uvicorn", "starlette", "pydantic"}

pytestmark = pytest.mark.inner


# -- building and installing -------------------------------------------------------------------


def run(argv: list[str | Path], *, cwd: Path | None = None, timeout: float = 600, **kw):
    """Run *argv*, failing with its output when it exits non-zero; print how long it took."""
    started = time.monotonic()
    # No PYTHONPATH (a benchmark sets it to this checkout): pip would take the checkout's
    # harness for the installed one, and the project would import it instead of the wheel's.
    kw.setdefault("env", {k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    result = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
        **kw,
    )
    print(f"{time.monotonic() - started:6.1f} s  {' '.join(map(str, argv[:6]))}")
    assert result.returncode == 0, f"{argv}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


def pip(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "pip", *args], cwd=cwd)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The harness as a user gets it: a wheel built from an sdist of this checkout."""
    dist = tmp_path_factory.mktemp("dist")
    BUILD_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(BUILD_LOCK, timeout=900):  # xdist workers: one at a time
        run([sys.executable, "-m", "build", "--outdir", dist, ROOT])  # writes ROOT/*.egg-info
    [built] = dist.glob("harness-*.whl")
    return built


def fresh_venv(where: Path, wheel: Path, *requirements: str, cwd: Path | None = None) -> Path:
    """A new virtualenv holding *wheel* and *requirements* from PyPI; returns its python."""
    run([sys.executable, "-m", "venv", "--without-pip", where])
    python = where / "bin" / "python"
    pip("--python", python, "install", "-q", "--no-compile", wheel, *requirements, cwd=cwd)
    return python


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the outside project, away from this repository (no conftest or ini above it)."""
    copy = tmp_path_factory.mktemp("elsewhere") / "orders-project"
    shutil.copytree(PROJECT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


@pytest.fixture(scope="module")
def project_python(tmp_path_factory: pytest.TempPathFactory, wheel: Path, project: Path) -> Path:
    """The project's virtualenv: the harness's wheel plus ``--group test`` from its pyproject."""
    venv = tmp_path_factory.mktemp("venv") / "orders"
    return fresh_venv(venv, wheel, "--group", "pyproject.toml:test", cwd=project)


def clean_env(**extra: str) -> dict[str, str]:
    """A CI job's environment: none of this repository's variables, virtualenv or run."""
    keep = {"HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "LOGNAME", "HARNESS_CACHE_DIR"}
    env = {
        key: value
        for key, value in os.environ.items()
        if key in keep
        or (
            key.startswith(("DOCKER_", "TESTCONTAINERS_", "TC_", "HARNESS_"))
            and "RUN_KEY" not in key
        )
    }
    our_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != our_bin)
    env.pop("HARNESS_STATE_DIR", None)
    return {**env, **extra}


def project_pytest(
    python: Path, project: Path, *args: str, env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    result = subprocess.run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-rA", *args],
        cwd=project,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    print(f"{time.monotonic() - started:6.1f} s  pytest {' '.join(args)}")
    return result


def passed(result: subprocess.CompletedProcess[str]) -> set[str]:
    return {line.split()[1] for line in result.stdout.splitlines() if line.startswith("PASSED ")}


PROJECT_TESTS = {
    "tests/test_cached_settings.py::test_the_app_uses_this_sessions_database",
    "tests/test_orders.py::test_an_order_is_read_back",
    "tests/test_orders.py::test_an_unknown_order_is_404",
    "tests/test_paid_consumer.py::test_a_paid_event_marks_the_order_paid",
    "tests/test_ping.py::test_ping_on_pytest_asyncio",
    "tests/test_resources.py::test_the_listed_servers_need_no_fixture",
}


# -- what was installed ----------------------------------------------------------------------


def test_the_wheel_alone_pulls_no_web_framework(wheel: Path, tmp_path: Path) -> None:
    """What ``pip install harness-*.whl`` would install, resolved on PyPI."""
    report = tmp_path / "report.json"
    pip("install", "-q", "--dry-run", "--ignore-installed", "--report", report, wheel)
    names = {item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]}
    assert "harness" in names and "pytest" in names
    assert not names & NOT_OURS_TO_PULL, sorted(names & NOT_OURS_TO_PULL)


def test_only_harness_lands_in_site_packages(project_python: Path, tmp_path: Path) -> None:
    """One top-level package of ours; ``shared`` is not on the path outside the project."""
    script = """
import importlib.metadata as md, importlib.util, json, re

def needs(dist):
    # the names *dist* requires outside any extra
    return {re.match(r"[\\w.-]+", r)[0].lower() for r in dist.requires or () if "extra ==" not in r}

print(json.dumps({
    "top": sorted({f.parts[0] for f in md.files("harness") if f.parts[0] != ".." and not f.parts[0].endswith(".dist-info")}),
    "requires": sorted(needs(md.distribution("harness"))),
    "fastapi_from": sorted(d.metadata["Name"] for d in md.distributions() if "fastapi" in needs(d)),
    "shared": importlib.util.find_spec("shared") is not None,
}))
"""
    found = json.loads(run([project_python, "-c", script], cwd=tmp_path).stdout)
    assert found["top"] == ["harness"]
    assert not set(found["requires"]) & NOT_OURS_TO_PULL
    assert found["fastapi_from"] == []  # the project's own requirement: no installed dist needs it
    assert found["shared"] is False


# -- the project's suite ---------------------------------------------------------------------


def test_the_project_passes_starting_its_own_servers(
    project_python: Path, project: Path, tmp_path: Path
) -> None:
    """Serially, as a fresh checkout in CI: its own servers, stopped at the end."""
    state = tmp_path / "state"  # reaped by tests/conftest.py if this fails half-way
    result = project_pytest(project_python, project, env=clean_env(HARNESS_STATE_DIR=str(state)))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert passed(result) == PROJECT_TESTS
    assert "asyncio: mode=Mode.STRICT" in result.stdout  # pytest-asyncio was there, in strict mode
    assert "harness: postgres" in result.stdout and "harness: rabbitmq" in result.stdout
    assert not list((state / "runs").glob("*.json")), "a run record was left: servers still up?"


def test_the_project_passes_on_two_workers(
    project_python: Path, project: Path, inner_env: dict[str, str], postgres_url: str,
    rabbitmq_url: str, redis_url: str,
) -> None:  # fmt: skip
    """``-n 2``, on this session's servers: each worker has its own namespaces and app."""
    result = project_pytest(project_python, project, "-n", "2", env=clean_env(**inner_env))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert passed(result) == PROJECT_TESTS
    assert "2 workers [6 items]" in result.stdout


def test_pytest_asyncio_in_auto_mode_stops_the_run_at_once(
    project_python: Path, project: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    result = project_pytest(
        project_python,
        project,
        "-o",
        "asyncio_mode=auto",
        env=clean_env(HARNESS_STATE_DIR=str(state)),
    )
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert result.stderr.startswith(
        "ERROR: harness: pytest-asyncio is installed in auto mode, so it runs every async test "
        "and fixture on loops of its own"
    ), result.stderr
    assert "harness: postgres" not in result.stdout  # nothing started
    assert not state.exists()


# -- a pydantic v1 project ---------------------------------------------------------------------

PYDANTIC_V1_TEST = """
import pydantic, pytest
from fastapi import FastAPI
from harness import app_client

pytestmark = pytest.mark.anyio
app = FastAPI()


class Order(pydantic.BaseModel):
    customer: str
    total_cents: pydantic.conint(ge=0)


@app.post("/orders")
async def create(order: Order) -> Order:
    return order


async def test_a_pydantic_v1_app_under_app_client():
    assert pydantic.VERSION.startswith("1.")
    async with app_client(app) as client:
        ok = await client.post("/orders", json={"customer": "ada", "total_cents": 5})
        bad = await client.post("/orders", json={"customer": "ada", "total_cents": -1})
    assert ok.json() == {"customer": "ada", "total_cents": 5}
    assert bad.status_code == 422
"""


def test_a_pydantic_v1_project_installs_and_runs_it(wheel: Path, tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "venv", wheel, "pydantic<2", "fastapi<0.100")
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "test_v1.py").write_text(PYDANTIC_V1_TEST)
    result = project_pytest(python, tmp_path / "project", env=clean_env())
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert passed(result) == {"test_v1.py::test_a_pydantic_v1_app_under_app_client"}
