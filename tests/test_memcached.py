"""A fifth kind of server written outside the harness gets what the built-in four get.

``tests/memcached_project`` is a project of its own: ``memcached_kind.py`` (a ``Resource``
subclass for Memcached, public API only) and a root ``conftest.py`` that registers it. Each test
copies it into a temporary directory and runs pytest or the ``harness`` command there, with a
state dir of its own, as a user would: start line, namespaces under xdist, leak check, reaping
after SIGKILL, reuse, ``harness doctor``, an external server, the Docker configuration.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import anyio
import psutil
import pytest

from harness._config import HarnessConfig
from harness._infra import reap
from harness._process import ProcessRecord, free_port, server_user, spawn, stop_process
from harness._state import RunRecord, RunState
from harness.backends import docker_status
from harness.backends._docker import LABEL, configure_container
from harness.resources import REGISTRY, Server
from tests.test_cli import Up
from tests.test_lifecycle import PYTEST, own_run_env, run_pytest, still_running

PROJECT = Path(__file__).resolve().parent / "memcached_project"
PUBLIC_MODULES = {"harness", "harness.resources"}
InnerRun = Callable[..., pytest.RunResult]
START_LINE = re.compile(
    r"^harness: memcached +(?P<backend>\w+) +Memcached 1\.6\.\d+ +(?P<address>127\.0\.0\.1:\d+) "
    r"+(?P<how>ready in|reused|shared)",
    re.M,
)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A copy of the Memcached project, as the inner pytest's root directory."""
    for path in PROJECT.iterdir():
        if path.is_file():
            shutil.copy(path, pytester.path / path.name)
    return pytester


def _state(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Environment of a run on its own (not joined to this session's run), state in tmp_path."""
    return {"HARNESS_STATE_DIR": str(tmp_path / "state"), **extra}


def _start_line(output: str) -> re.Match[str]:
    found = START_LINE.search(output)
    assert found, f"no memcached start line in:\n{output}"
    return found


def _listening(address: str) -> bool:
    host, port = address.split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


# -- the project uses the public API only ------------------------------------------------------------
def test_the_project_imports_only_public_harness_names() -> None:
    sources = sorted(PROJECT.glob("*.py"))
    assert {p.name for p in sources} >= {"conftest.py", "memcached_kind.py"}
    harness_imports = []
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [(node.module, alias.name) for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [(alias.name, "") for alias in node.names]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                names = [(node.value.id, node.attr)] if node.value.id == "harness" else []
            else:
                continue
            for module, name in names:
                if module.split(".")[0] != "harness":
                    continue
                harness_imports.append(f"{path.name}: {module} {name}")
                assert module in PUBLIC_MODULES, f"{path.name} imports {module}"
                assert not name.startswith("_"), f"{path.name} uses {module}.{name}"
    assert len(harness_imports) >= 3, harness_imports


# -- start, serve, stop ------------------------------------------------------------------------------
@pytest.mark.backend("local")  # checks memcached's own process (PID, port, binary)
def test_it_starts_locally_serves_its_fixtures_and_stops(
    project: pytest.Pytester, inner_pytest: InnerRun, tmp_path: Path
) -> None:
    result = inner_pytest("-q", "-s", "-p", "no:randomly", join=False, env=_state(tmp_path))
    result.assert_outcomes(passed=3)
    line = _start_line(result.stdout.str())
    assert line["backend"] == "local" and line["how"] == "ready in"
    assert not _listening(line["address"]), "memcached still runs after the run"
    assert not list((tmp_path / "state" / "runs").glob("*.json"))


ISOLATION_TEST = '''
import os, pathlib, time
import pytest
from memcached_kind import all_keys

pytestmark = pytest.mark.anyio
BARRIER = pathlib.Path(os.environ["BARRIER_DIR"])


def both_workers_reach(step, me):
    """Wait until the other worker reached *step* too: both write before either reads, both
    read before either deletes, else isolation is not tested."""
    (BARRIER / f"{step}-{me}").touch()
    deadline = time.monotonic() + 60
    while len(list(BARRIER.glob(f"{step}-*"))) < 2:
        assert time.monotonic() < deadline, "the two tests did not run at once on two workers"
        time.sleep(0.05)


@pytest.mark.parametrize("n", [1, 2])
async def test_the_same_key_never_collides(n, worker_id, memcached, memcached_url):
    await memcached.set("shared-key", worker_id.encode())
    both_workers_reach("written", worker_id)
    assert await memcached.get("shared-key") == worker_id.encode()
    stored = [k for k in await all_keys(memcached_url) if k.endswith(b":shared-key")]
    assert len(stored) == 2 and memcached.key("shared-key") in stored  # one server, 2 prefixes
    both_workers_reach("read", worker_id)
    await memcached.delete("shared-key")
'''


def test_two_xdist_workers_share_one_server_and_never_see_each_others_keys(
    project: pytest.Pytester, inner_pytest: InnerRun, tmp_path: Path
) -> None:
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    project.makepyfile(test_isolation=ISOLATION_TEST)
    env = _state(tmp_path, BARRIER_DIR=str(barrier))
    result = inner_pytest("-n", "2", "--dist", "load", "test_isolation.py", join=False, env=env)
    result.assert_outcomes(passed=2)
    assert sorted(p.name for p in barrier.glob("read-*")) == ["read-gw0", "read-gw1"]
    lines = [m.group(0) for m in START_LINE.finditer(result.stdout.str())]
    assert [line for line in lines if "ready in" in line and "shared" not in line], lines
    assert len({m["address"] for m in START_LINE.finditer(result.stdout.str())}) == 1
    assert not list((tmp_path / "state" / "runs").glob("*.json"))


# -- the leak check --------------------------------------------------------------------------------
LEAKING_TESTS = """
import pytest
from memcached_kind import memcached_key
from harness import seeded

pytestmark = pytest.mark.anyio


async def test_leaks_a_key(memcached):
    await memcached.set("leak:key", b"left behind")


async def test_clean_with_a_seed(memcached):
    async with seeded(memcached_key("clean:key", b"v")):
        pass


async def test_deletes_what_it_sets(memcached):
    await memcached.set("temporary", b"v")
    await memcached.delete("temporary")
"""


def test_the_leak_check_catches_a_leaked_key_and_passes_clean_tests(
    project: pytest.Pytester, inner_pytest: InnerRun, tmp_path: Path
) -> None:
    project.makepyfile(test_leaks=LEAKING_TESTS)
    result = inner_pytest("-p", "no:randomly", "test_leaks.py", join=False, env=_state(tmp_path))
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaks_a_key*",
            "*LeakError: test_leaks_a_key left data behind:",
            "*  memcached namespace h*-memcached: 1 key left (0 before, 1 after); keys now: leak:key",
        ],
        consecutive=False,
    )
    out = result.stdout.str()
    assert "ERROR at teardown of test_clean_with_a_seed" not in out
    assert "ERROR at teardown of test_deletes_what_it_sets" not in out


# -- reaping and reuse -------------------------------------------------------------------------------
HANGING_TEST = """
import json, os, time, pytest
pytestmark = pytest.mark.anyio

async def test_hang(memcached_url, harness_infra):
    server = harness_infra.servers["memcached"]
    path = os.environ["FLAG_FILE"]
    with open(path + ".tmp", "w") as f:
        json.dump({"pids": [r.pid for r in server.processes], "dir": server.workdir}, f)
    os.rename(path + ".tmp", path)
    time.sleep(600)
"""


@pytest.mark.backend("local")  # checks memcached's own process (PID, port, binary)
def test_a_sigkilled_runs_memcached_is_stopped_by_the_next_run(
    project: pytest.Pytester, tmp_path: Path
) -> None:
    flag = tmp_path / "flag.json"
    env = own_run_env(tmp_path / "state", FLAG_FILE=str(flag))
    project.makepyfile(test_hang=HANGING_TEST)
    victim = subprocess.Popen(
        [*PYTEST, "test_hang.py"], cwd=project.path, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert victim.poll() is None and time.monotonic() < deadline, victim.communicate()
            time.sleep(0.05)
    finally:
        victim.kill()
        victim.communicate()
    started = json.loads(flag.read_text())
    assert still_running(started["pids"]), "precondition: the killed run's memcached is orphaned"

    project.makepyfile(test_next="def test_next():\n    pass\n")
    second = run_pytest(project.path, env, "test_next.py")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "harness: reaped memcached (local)" in second.stdout
    psutil.wait_procs([psutil.Process(p) for p in still_running(started["pids"])], timeout=10)
    assert not still_running(started["pids"]), second.stdout
    assert not Path(started["dir"]).exists()


@pytest.mark.backend("local")  # checks memcached's own process (PID, port, binary)
def test_reuse_reattaches_to_the_running_memcached_until_harness_down(
    project: pytest.Pytester, inner_pytest: InnerRun, tmp_path: Path
) -> None:
    first = inner_pytest("-q", "-s", "--harness-reuse", join=False, env=_state(tmp_path))
    first.assert_outcomes(passed=3)
    second = inner_pytest("-q", "-s", "--harness-reuse", join=False, env=_state(tmp_path))
    second.assert_outcomes(passed=3)
    started, reused = _start_line(first.stdout.str()), _start_line(second.stdout.str())
    assert started["how"] == "ready in" and reused["how"] == "reused"
    assert started["address"] == reused["address"]  # the same server
    (path,) = (tmp_path / "state" / "runs").glob("*.json")
    server = RunRecord(tmp_path / "state", path.stem).load().servers["memcached"]
    assert server.processes[0].alive()

    down = _harness("down", "--rootdir", str(project.path), tmp_path=tmp_path)
    assert down.returncode == 0, down.stdout + down.stderr
    assert f"stopped memcached (local, {started['address']})" in down.stdout
    assert not server.processes[0].alive()
    assert not _listening(started["address"])


# -- harness doctor ----------------------------------------------------------------------------------
def _cli_env(tmp_path: Path, **env: str) -> dict[str, str]:
    """The environment of a ``harness`` command run outside any run of this session."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HARNESS_", "PYTEST_")) or k == "HARNESS_CACHE_DIR"
    }
    return {**base, **_state(tmp_path), **env}


def _harness(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The ``harness`` command, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        env=_cli_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.backend("local")  # checks memcached's own process (PID, port, binary)
def test_harness_up_starts_it_with_its_mapped_variable_and_stops_it(
    project: pytest.Pytester, tmp_path: Path
) -> None:
    up = Up(tmp_path, "--rootdir", str(project.path), env=_cli_env(tmp_path))
    try:
        up.wait_ready()
        line = _start_line(up.stderr)
        assert line["backend"] == "local" and _listening(line["address"])
        assert up.dotenv()["MEMCACHED-URL"].startswith(f"memcached://{line['address']}/h")
        assert up.stop(signal.SIGINT) == 0, up.stderr
    finally:
        up.kill()
    assert not _listening(line["address"])


@pytest.mark.skipif(docker_status()[0], reason="checks the no-Docker path")
@pytest.mark.backend("local")  # checks memcached's own process (PID, port, binary)
def test_doctor_shows_its_version_and_binary(project: pytest.Pytester, tmp_path: Path) -> None:
    result = _harness("doctor", "--rootdir", str(project.path), tmp_path=tmp_path)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert re.search(r"^Memcached +local: HARNESS_MEMCACHED_URL is not set; no Docker", out, re.M)
    assert re.search(r"^  version +memcached 1\.6\.\d+$", out, re.M), out
    assert re.search(r"^  memcached +/\S+/memcached$", out, re.M), out
    assert "OK: the resource this project uses can be provided." in out  # harness_env_map
    assert "Redis        local" in out and "[not used by this project]" in out


@pytest.mark.backend("local")  # checks memcached's own process (PID, port, binary)
def test_doctor_without_memcached_on_path_gives_its_install_hint(
    project: pytest.Pytester, tmp_path: Path
) -> None:
    bare = str(Path(sys.executable).parent)  # python only
    result = _harness(
        "doctor", "--backend", "local", "--rootdir", str(project.path), tmp_path=tmp_path, PATH=bare
    )
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "Memcached    CANNOT BE PROVIDED\n" in out
    assert re.search(
        r"to fix it, install the local binaries:\n    (sudo )?apt-get install memcached  "
        r"\(or set HARNESS_MEMCACHED_URL\)$",
        out,
        re.M,
    ), out
    assert "NOT READY: cannot provide Memcached;" in out


def test_the_command_knows_the_projects_kinds_only_in_that_project(
    project: pytest.Pytester, tmp_path: Path
) -> None:
    here = _harness(
        "doctor",
        "--resources",
        "memcached,redis",
        "--rootdir",
        str(project.path),
        tmp_path=tmp_path,
    )
    assert here.returncode == 0, here.stdout + here.stderr
    elsewhere = _harness(
        "doctor", "--resources", "memcached", "--rootdir", str(tmp_path), tmp_path=tmp_path
    )
    assert elsewhere.returncode == 2
    assert "unknown resource memcached: choose from rabbitmq, postgres, mongo, redis\n" in (
        elsewhere.stderr
    )
    (project.path / "conftest.py").write_text("import not_installed_anywhere\n")
    broken = _harness("doctor", "--rootdir", str(project.path), tmp_path=tmp_path)
    assert broken.returncode == 1
    assert f"harness: could not import {project.path / 'conftest.py'} (ModuleNotFoundError" in (
        broken.stderr
    )


# -- an external server --------------------------------------------------------------------------------
def _kind() -> ModuleType:
    """The project's ``memcached_kind`` module, imported here without registering the kind."""
    spec = importlib.util.spec_from_file_location("memcached_kind", PROJECT / "memcached_kind.py")
    assert spec is not None and spec.loader is not None
    module = sys.modules.get("memcached_kind") or importlib.util.module_from_spec(spec)
    if "memcached_kind" not in sys.modules:
        spec.loader.exec_module(module)
        sys.modules["memcached_kind"] = module
    return module


@pytest.fixture
def external_memcached(tmp_path: Path) -> Iterator[str]:
    """A Memcached the harness does not own, holding a team's key: ``memcached://host:port``."""
    port = free_port()
    argv = ["memcached", "--listen=127.0.0.1", f"--port={port}", "--udp-port=0"]
    _, record = spawn(argv, cwd=tmp_path, log_path=tmp_path / "external.log", user=server_user())
    try:
        deadline = time.monotonic() + 10
        while not _listening(f"127.0.0.1:{port}"):
            assert time.monotonic() < deadline, (tmp_path / "external.log").read_text()
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as team:
            team.sendall(b"set team:config 0 0 4\r\nkeep\r\n")
            assert team.recv(100) == b"STORED\r\n"
        yield f"memcached://127.0.0.1:{port}"
    finally:
        stop_process(record)


def test_an_external_server_keeps_everything_the_run_did_not_write(
    project: pytest.Pytester, inner_pytest: InnerRun, tmp_path: Path, external_memcached: str
) -> None:
    project.makepyfile(test_leaks=LEAKING_TESTS)
    # auto, not the local backend a run on its own may be forced to: the URL must be used
    env = _state(tmp_path, HARNESS_MEMCACHED_URL=external_memcached, HARNESS_BACKEND="auto")
    result = inner_pytest("-s", "-p", "no:randomly", join=False, env=env)
    result.assert_outcomes(passed=6, errors=1)  # the project's 3, the leak demo's 3 (+1 leak)
    assert _start_line(result.stdout.str())["backend"] == "external"
    # the run's namespace went, the leaked key with it; the team's key stays
    with ThreadPoolExecutor(1) as thread:  # this thread runs the session's event loop
        keys = thread.submit(anyio.run, _kind().all_keys, external_memcached).result()
    assert keys == [b"team:config"]


def test_a_killed_runs_external_server_of_an_unknown_kind_is_left_to_its_project(
    tmp_path: Path,
) -> None:
    """The state dir is shared by a user's projects: a project that does not register
    memcached cannot drop a killed run's namespace on an external Memcached, so it leaves the
    run for that project (it still stops servers the harness ran, whatever their kind)."""
    assert "memcached" not in REGISTRY  # this session does not register it
    config = HarnessConfig(rootdir=tmp_path, state_dir=tmp_path / "state")
    external = Server("memcached", "external", "memcached://127.0.0.1:1")
    dead = {"999999:dead": 1.0}
    namespace = [{"resource": "memcached", "name": "h0-main-memcached", "lease": "999999:dead"}]
    RunRecord(config.state_dir, "other-project").save(
        RunState(servers={"memcached": external}, leases=dead, namespaces=namespace)
    )
    orphan = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        local = Server("memcached", "local", "memcached://127.0.0.1:2")
        local.processes = [ProcessRecord.of(orphan.pid)]
        RunRecord(config.state_dir, "local-run").save(
            RunState(servers={"memcached": local}, leases=dead)
        )
        assert reap(config) == ["memcached (local) of run local-run"]
        assert orphan.wait(timeout=10) is not None  # stopped (and collected by the reaper)
        assert RunRecord(config.state_dir, "other-project").path.exists()
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()


# -- the Docker backend (exercised where a daemon runs) -----------------------------------------------
def test_the_docker_backend_configures_testcontainers_memcached_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HARNESS_MEMCACHED_IMAGE", raising=False)  # the Docker lane sets it
    from testcontainers.community.memcached import MemcachedContainer

    from harness.backends._docker_network import NetworkPlan

    config = HarnessConfig(rootdir=Path("/project"))
    loopback = NetworkPlan("docker_host", False, "127.0.0.1", "127.0.0.1", None, "a test")
    container = configure_container(
        _kind().MemcachedResource(), config, "unused-secret", plan=loopback, api_version="1.41"
    )
    assert isinstance(container, MemcachedContainer)
    assert container.image == "memcached:1.6-alpine"
    assert {int(port) for port in container.ports} == {11211}
    assert all(binding == ("127.0.0.1", None) for binding in container.ports.values())
    assert container._kwargs["labels"] == {LABEL: "project"}
