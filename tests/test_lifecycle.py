"""Servers start concurrently, answer their real clients, and leave nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import psutil
import pytest

from harness._config import HarnessConfig
from harness._exceptions import ServerDiedError
from harness._infra import Infrastructure, reap
from harness._stash import session_of
from harness._state import RunRecord
from harness.backends._docker import image_for
from harness.resources import REGISTRY

from .conftest import own_servers_env

pytestmark = pytest.mark.anyio

ALL = ("rabbitmq", "postgres", "mongo", "redis")


def _config(tmp_path: Path, **overrides: object) -> HarnessConfig:
    return HarnessConfig(
        rootdir=tmp_path, backend="local", state_dir=tmp_path / "state", **overrides
    )  # type: ignore[arg-type]


def _processes(infra: Infrastructure) -> list[psutil.Process]:
    procs = []
    for server in infra.servers.values():
        for record in server.processes:
            proc = record.process()
            assert proc is not None, f"{server.resource} pid {record.pid} is not running"
            procs.append(proc)
    return procs


@pytest.mark.backend("local")
async def test_all_four_start_concurrently_answer_and_stop_clean(tmp_path: Path) -> None:
    infra = Infrastructure(_config(tmp_path))
    lines = await infra.start(ALL)
    try:
        assert [line.resource for line in lines] == list(ALL)
        assert all(line.backend == "local" and line.how == "started" for line in lines)
        # Concurrency, by order not by duration: every server began starting before the
        # slowest (RabbitMQ, ~5 s) answered.
        rabbit = infra.servers["rabbitmq"]
        rabbit_ready = rabbit.started_at + rabbit.ready_seconds
        assert all(s.started_at < rabbit_ready for s in infra.servers.values())
        # Real round trips through the harness's own clients, in this session's namespaces.
        assert (
            await infra.clients["postgres"].fetchval("SELECT current_database()")
            == infra.urls["postgres"].rsplit("/", 1)[1]
        )
        assert await infra.clients["redis"].ping()
        await infra.clients["mongo"].probe.insert_one({"x": 1})
        assert await infra.clients["mongo"].probe.count_documents({}) == 1
        queue = await infra.clients["rabbitmq"].declare_queue(exclusive=True)
        assert queue.name
        # Bound to loopback only: every process of every server, children included (RabbitMQ's
        # beam.smp runs under its start script).
        for proc in _processes(infra):
            for member in [proc, *proc.children(recursive=True)]:
                for conn in member.net_connections(kind="inet"):
                    if conn.status == psutil.CONN_LISTEN:
                        assert conn.laddr.ip in {"127.0.0.1", "::1"}, (member.name(), conn.laddr)
        procs = _processes(infra)
        workdirs = [Path(s.workdir) for s in infra.servers.values() if s.workdir]
    finally:
        await infra.close()
    _, alive = psutil.wait_procs(procs, timeout=5)
    assert not alive, f"still running after close: {alive}"
    assert not any(w.exists() for w in workdirs)
    assert not infra.record.path.exists()


@pytest.mark.backend("local")
async def test_a_second_process_shares_the_servers_and_the_last_lease_stops_them(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    first = Infrastructure(config, key="shared", worker="gw0")
    await first.start(["redis"])
    second = Infrastructure(config, key="shared", worker="gw1")
    try:
        lines = await second.start(["redis"])
        assert lines[0].how == "shared"
        assert first.urls["redis"] != second.urls["redis"]  # own DB index each
        await first.clients["redis"].set("k", "first")
        assert await second.clients["redis"].get("k") is None
        pid = first.servers["redis"].processes[0]
    finally:
        await first.close()
    try:
        assert pid.alive(), "the server stopped while another lease holder still used it"
    finally:
        await second.close()
    assert not pid.alive()


@pytest.mark.backend("local")
async def test_a_dead_server_fails_the_next_test_with_its_log(tmp_path: Path) -> None:
    infra = Infrastructure(_config(tmp_path))
    await infra.start(["redis"])
    try:
        record = infra.servers["redis"].processes[0]
        os.kill(record.pid, signal.SIGKILL)
        psutil.wait_procs([psutil.Process(record.pid)], timeout=10)
        with pytest.raises(ServerDiedError, match=r"Redis .* stopped during the run"):
            infra.check_alive(["redis"])
    finally:
        await infra.close()


def test_only_the_resources_the_selected_tests_need_start(
    inner_pytest, pytester: pytest.Pytester
) -> None:
    pytester.makepyfile(
        test_only_redis="""
        import pytest, harness
        pytestmark = pytest.mark.anyio

        async def test_uses_redis(redis_url):
            assert await harness.redis().ping()

        def test_plain():
            pass
        """
    )
    result = inner_pytest("-q", "-s")
    result.assert_outcomes(passed=2)
    started = [line for line in result.outlines if line.startswith("harness: ")]
    assert [line.split()[1] for line in started] == ["redis"], started


def test_harness_resources_starts_them_for_every_test_with_their_variables(
    inner_pytest, pytester: pytest.Pytester
) -> None:
    pytester.makeini("[pytest]\nharness_resources = redis\nharness_env_map = MY-REDIS=redis\n")
    pytester.makepyfile(
        test_no_fixture="""
        import os

        def test_asks_for_nothing():
            assert os.environ["MY-REDIS"].startswith("redis://")
        """
    )
    result = inner_pytest("-q", "-s")
    result.assert_outcomes(passed=1)
    started = [line for line in result.outlines if line.startswith("harness: ")]
    assert [line.split()[1] for line in started] == ["redis"], started


def test_no_server_starts_when_no_test_needs_one(inner_pytest, pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = inner_pytest("-q", join=False, env={"HARNESS_STATE_DIR": str(pytester.path / "state")})
    result.assert_outcomes(passed=1)
    assert not [line for line in result.outlines if line.startswith("harness: ")]


HANGING_TEST = """
import json, os, time, pytest
pytestmark = pytest.mark.anyio

async def test_hang(redis_url, postgres_url, harness_infra):
    pids = [r.pid for s in harness_infra.servers.values() for r in s.processes]
    dirs = [s.workdir for s in harness_infra.servers.values()]
    path = os.environ["FLAG_FILE"]
    with open(path + ".tmp", "w") as f:
        json.dump({"pids": pids, "dirs": dirs}, f)
    os.rename(path + ".tmp", path)
    time.sleep(600)
"""


PYTEST = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider"]


def own_run_env(state: Path, **extra: str) -> dict[str, str]:
    """Environment of a pytest that runs on its own, not joined to this session's run."""
    return own_servers_env({**os.environ, "HARNESS_STATE_DIR": str(state), **extra})


def run_pytest(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PYTEST, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def start_hanging_run(
    pytester: pytest.Pytester, env: dict[str, str]
) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """A pytest stuck inside a test once its servers run; returns it and what it started."""
    flag = Path(env["FLAG_FILE"])
    pytester.makepyfile(test_hang=HANGING_TEST)
    victim = subprocess.Popen(
        [*PYTEST, "test_hang.py"],
        cwd=pytester.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not flag.exists():
        if victim.poll() is not None or time.monotonic() > deadline:
            victim.kill()
            pytest.fail(f"the inner pytest did not start its servers:\n{victim.communicate()[0]}")
        time.sleep(0.1)
    return victim, json.loads(flag.read_text())


def still_running(pids: list[int]) -> list[int]:
    return [
        pid
        for pid in pids
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ]


@pytest.mark.backend("local")
def test_a_sigkilled_run_is_reaped_by_the_next(pytester: pytest.Pytester, tmp_path: Path) -> None:
    env = own_run_env(tmp_path / "state", FLAG_FILE=str(tmp_path / "flag.json"))
    victim, started = start_hanging_run(pytester, env)
    victim.kill()
    victim.communicate()
    assert still_running(started["pids"]), "precondition: the killed run's servers are orphaned"

    pytester.makepyfile(test_next="def test_next():\n    pass\n")
    second = run_pytest(pytester.path, env, "test_next.py")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "harness: reaped redis (local)" in second.stdout
    psutil.wait_procs([psutil.Process(pid) for pid in still_running(started["pids"])], timeout=10)
    assert not still_running(started["pids"]), (
        f"orphans still running; second run said:\n{second.stdout}"
    )
    assert not any(Path(d).exists() for d in started["dirs"] if d)
    assert not list((tmp_path / "state" / "runs").iterdir())  # no record, no lock file


def test_a_run_that_starts_servers_reaps_orphans_first(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    record = RunRecord(state, "killed-run")
    workdir = state / "servers" / "redis-orphan"
    workdir.mkdir(parents=True)
    orphan = subprocess.Popen(
        ["redis-server", "--port", "0", "--save", ""],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        from harness._process import ProcessRecord
        from harness._state import RunState
        from harness.resources import Server

        dead_lease = {"999999": 1.0}
        server = Server(
            "redis",
            "local",
            "redis://127.0.0.1:1/0",
            processes=[ProcessRecord.of(orphan.pid)],
            workdir=str(workdir),
        )
        record.save(RunState(servers={"redis": server}, leases=dead_lease))
        pytester.makepyfile(
            test_uses="""
            import pytest, harness
            pytestmark = pytest.mark.anyio

            async def test_uses(redis_url):
                assert await harness.redis().ping()
            """
        )
        result = run_pytest(pytester.path, own_run_env(state))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "harness: reaped redis (local) of run killed-run" in result.stdout
        assert orphan.wait(timeout=10) is not None
        assert not workdir.exists()
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()


@pytest.mark.backend("local")
def test_reuse_keeps_servers_for_the_next_run_until_harness_down(
    inner_pytest, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\nharness_reuse = true\n")
    pytester.makepyfile(
        test_reuse="""
        import pytest, harness
        pytestmark = pytest.mark.anyio

        async def test_uses(redis_url):
            assert await harness.redis().ping()
        """
    )
    env = {"HARNESS_STATE_DIR": str(tmp_path / "state")}
    first = inner_pytest("-q", "-s", join=False, env=env)
    first.assert_outcomes(passed=1)
    second = inner_pytest("-q", "-s", join=False, env=env)
    second.assert_outcomes(passed=1)
    started = [line for line in first.outlines if line.startswith("harness: redis")]
    reused = [line for line in second.outlines if line.startswith("harness: redis")]
    assert started and started[0].endswith(" s") and "reused" not in started[0]
    assert reused and "reused" in reused[0]
    assert started[0].split()[4] == reused[0].split()[4]  # same address: the same server
    (record,) = [
        RunRecord(tmp_path / "state", p.stem) for p in (tmp_path / "state" / "runs").glob("*.json")
    ]
    server = record.load().servers["redis"]
    assert server.processes[0].alive()

    down = subprocess.run(
        [sys.executable, "-m", "harness", "down", "--rootdir", str(pytester.path)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert down.returncode == 0, down.stderr
    assert not server.processes[0].alive()
    assert not Path(server.workdir or "/nonexistent").exists()


@pytest.mark.backend("local")
def test_a_dead_reused_server_is_replaced(
    inner_pytest, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\nharness_reuse = true\n")
    pytester.makepyfile(test_reuse="def test_uses(redis_url):\n    pass\n")
    env = {"HARNESS_STATE_DIR": str(tmp_path / "state")}
    inner_pytest("-q", join=False, env=env).assert_outcomes(passed=1)
    (path,) = (tmp_path / "state" / "runs").glob("*.json")
    record = RunRecord(tmp_path / "state", path.stem)
    old = record.load().servers["redis"].processes[0]
    os.kill(old.pid, signal.SIGKILL)
    psutil.wait_procs([psutil.Process(old.pid)], timeout=10)
    second = inner_pytest("-q", "-s", join=False, env=env)
    second.assert_outcomes(passed=1)
    assert any(
        line.startswith("harness: redis") and "reused" not in line for line in second.outlines
    )
    new = record.load().servers["redis"].processes[0]
    try:
        assert new.pid != old.pid and new.alive()
    finally:
        subprocess.run(
            [sys.executable, "-m", "harness", "down", "--rootdir", str(pytester.path)],
            env={**os.environ, **env},
            timeout=60,
            check=True,
            capture_output=True,
        )
    assert not new.alive()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
@pytest.mark.backend("local")
def test_interrupted_run_stops_its_servers(
    pytester: pytest.Pytester, tmp_path: Path, sig: int
) -> None:
    env = own_run_env(tmp_path / "state", FLAG_FILE=str(tmp_path / "flag.json"))
    victim, started = start_hanging_run(pytester, env)
    victim.send_signal(sig)
    try:
        output, _ = victim.communicate(timeout=60)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    assert victim.returncode != 0
    assert "Interrupted" in output or "KeyboardInterrupt" in output, output
    left = still_running(started["pids"])
    assert not left, f"servers left running after {signal.Signals(sig).name}: {left}\n{output}"
    assert not any(Path(d).exists() for d in started["dirs"] if d)
    assert not list((tmp_path / "state" / "runs").iterdir())  # no record, no lock file


def test_a_server_that_fails_to_start_stops_the_others_and_the_run(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makepyfile(
        test_needs_two="""
        def test_needs_two(redis_url, rabbitmq_url):
            pass
        """
    )
    # RabbitMQ needs seconds to answer; Redis answers in milliseconds, then must be stopped.
    result = run_pytest(
        pytester.path, own_run_env(tmp_path / "state"), "--harness-startup-timeout=1"
    )
    assert result.returncode == 3, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "harness could not start the test infrastructure" in output
    assert "RabbitMQ" in output and "did not answer within 1 s" in output
    assert "Hint:" in output
    assert "1 passed" not in output
    assert not list((tmp_path / "state" / "runs").iterdir())  # no record, no lock file
    servers = tmp_path / "state" / "servers"
    assert not servers.exists() or not list(servers.iterdir())


def test_deselected_tests_start_nothing(inner_pytest, pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_two="""
        def test_with_redis(redis_url):
            pass

        def test_with_postgres(postgres_url):
            pass
        """
    )
    result = inner_pytest("-q", "-s", "-k", "with_redis")
    result.assert_outcomes(passed=1, deselected=1)
    started = [line.split()[1] for line in result.outlines if line.startswith("harness: ")]
    assert started == ["redis"]


@pytest.mark.backend("local")
async def test_a_port_taken_between_choice_and_bind_is_retried_on_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    import harness.backends._local as local
    from harness._process import free_port

    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    ports = iter([taken])
    monkeypatch.setattr(local, "free_port", lambda: next(ports, None) or free_port())
    infra = Infrastructure(_config(tmp_path))
    try:
        await infra.start(["redis"])
        assert await infra.clients["redis"].ping()
        assert f":{taken}/" not in infra.urls["redis"]
        assert len(list((tmp_path / "state" / "servers").iterdir())) == 1  # the failed try is gone
    finally:
        await infra.close()
        squatter.close()


def test_a_fifth_resource_is_one_class_and_one_registration(
    inner_pytest, pytester: pytest.Pytester, request: pytest.FixtureRequest
) -> None:
    """ARCHITECTURE.md's rule, from a project's side: a resource registered in the root conftest
    gets its fixtures, backend choice, start line, namespace, env mapping and client."""
    pytester.makeconftest(
        """
        from harness.resources import register
        from harness.resources.redis import RedisResource

        class CacheResource(RedisResource):
            name = "cache"
            title = "Cache (a second Redis)"

        register(CacheResource())
        """
    )
    pytester.makeini("[pytest]\nharness_env_map = CACHE-URL=cache\n")
    pytester.makepyfile(
        test_cache="""
        import os, pytest
        from urllib.parse import urlsplit
        pytestmark = pytest.mark.anyio

        async def test_cache(cache_url, cache, redis_url):
            assert os.environ["CACHE-URL"] == cache_url
            assert urlsplit(cache_url).port != urlsplit(redis_url).port  # its own server
            await cache.set("k", "v")
            assert await cache.get("k") == b"v"
            await cache.delete("k")
        """
    )
    # On Docker the cache is another Redis container: the lane's Redis image.
    image = image_for(REGISTRY["redis"], session_of(request.config).config)
    result = inner_pytest("-q", "-s", env={"HARNESS_CACHE_IMAGE": image})
    result.assert_outcomes(passed=1)
    assert any(line.startswith("harness: cache ") for line in result.outlines), result.outlines


async def test_reaping_a_killed_run_drops_its_namespaces_on_an_external_server(
    harness_infra: Infrastructure, postgres_url: str, tmp_path: Path
) -> None:
    """An external server is never stopped, so a killed run's databases must be dropped."""
    from harness._state import RunState
    from harness.resources import REGISTRY, Server

    resource, admin = REGISTRY["postgres"], harness_infra.servers["postgres"]
    external = Server("postgres", "external", admin.url)
    name = f"h_killed_{os.getpid()}"
    await resource.create_namespace(external, name)
    state = RunState(
        servers={"postgres": external},
        leases={"999999:dead": 1.0},
        namespaces=[{"resource": "postgres", "name": name, "lease": "999999:dead"}],
    )
    RunRecord(tmp_path / "state", "killed-external").save(state)

    reaped = await anyio.to_thread.run_sync(lambda: reap(_config(tmp_path)))

    assert reaped == ["postgres (external) of run killed-external"]
    exists = await harness_infra.clients["postgres"].fetchval(
        "SELECT count(*) FROM pg_database WHERE datname = $1", name
    )
    assert exists == 0
    assert await harness_infra.clients["postgres"].fetchval("SELECT 1") == 1  # the server stays


def test_run_records_holding_credentials_are_owner_only(tmp_path: Path) -> None:
    import stat

    from harness._state import RunState

    record = RunRecord(tmp_path / "state", "secret-run")
    record.save(RunState())
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    assert stat.S_IMODE(record.dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(record.path.stat().st_mode) == 0o600
