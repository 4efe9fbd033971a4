"""The ``harness`` command line, run as a user runs it: a subprocess, real servers, real clients.

``harness up`` gets a private state dir per test, so what it starts (and must stop) is its own.
"""

from __future__ import annotations

import io
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import pytest
from dotenv import dotenv_values

from harness._env import read_env_file
from harness._process import ProcessRecord
from harness._state import RunRecord, RunState
from harness.backends import docker_status
from tests.test_migrations import make_chain

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 90.0
STOP_TIMEOUT = 45.0
NO_DOCKER = [
    pytest.mark.backend("local"),
    pytest.mark.skipif(docker_status()[0], reason="checks the no-Docker path"),
]
"""The no-Docker path: the local lane's tests (deselected on the Docker lane)."""


def _no_docker(test):
    for mark in NO_DOCKER:
        test = mark(test)
    return test


# -- helpers -----------------------------------------------------------------------------------------
LANE = ("HARNESS_CACHE_DIR", "HARNESS_IMAGES")
"""The lane's images are kept: they say how servers are provided, not which ones to join."""


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This environment minus anything that would make the CLI join another run or server."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HARNESS_", "PYTEST_")) or k in LANE or k.endswith("_IMAGE")
    }
    env["HARNESS_STATE_DIR"] = str(tmp_path / "state")
    env.update(extra)
    return env


def harness(
    *args: str, tmp_path: Path, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=ROOT,
        env=dict(env) if env is not None else _env(tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Up:
    """A running ``harness up``: output to files (no pipe can fill up and block it)."""

    def __init__(self, tmp_path: Path, *args: str, env: Mapping[str, str] | None = None) -> None:
        self.tmp_path = tmp_path
        self.out, self.err = tmp_path / "up.out", tmp_path / "up.err"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "harness", "up", *args],
                cwd=ROOT,
                env=dict(env) if env is not None else _env(tmp_path),
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )

    @property
    def stdout(self) -> str:
        return self.out.read_text()

    @property
    def stderr(self) -> str:
        return self.err.read_text()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while "harness up: ready" not in self.stderr:
            if self.proc.poll() is not None:
                pytest.fail(f"harness up exited {self.proc.returncode}:\n{self.stderr}")
            if time.monotonic() > deadline:
                pytest.fail(f"harness up not ready after {START_TIMEOUT} s:\n{self.stderr}")
            time.sleep(0.1)

    def dotenv(self) -> dict[str, str]:
        block = self.stdout.split("# --- .env ---\n", 1)[1].split("# --- end ---", 1)[0]
        return {k: v for k, v in dotenv_values(stream=io.StringIO(block)).items() if v is not None}

    def record(self) -> RunRecord:
        found = re.search(r"run record (\S+)\.json", self.stderr)
        assert found, self.stderr
        path = Path(found.group(1))
        return RunRecord(path.parent.parent, path.name)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=STOP_TIMEOUT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def up_process(tmp_path: Path) -> Iterator[list[Up]]:
    """Started ``harness up`` processes; any still running at the end is stopped, then reaped."""
    started: list[Up] = []
    yield started
    for up in started:
        if up.proc.poll() is None:
            up.proc.send_signal(signal.SIGTERM)
            try:
                up.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                up.kill()
    harness("reap", tmp_path=tmp_path)
    harness("down", "--force", tmp_path=tmp_path)


def _processes(state: RunState) -> list[ProcessRecord]:
    return [p for server in state.servers.values() for p in server.processes]


def _workdirs(state: RunState) -> list[Path]:
    return [Path(s.workdir) for s in state.servers.values() if s.workdir]


def _assert_gone(processes: list[ProcessRecord], workdirs: list[Path]) -> None:
    deadline = time.monotonic() + 10
    while any(p.alive() for p in processes) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in processes if p.alive()], "server processes left running"
    assert not [w for w in workdirs if w.exists()], "server temp dirs left behind"


async def _answer(values: Mapping[str, str]) -> None:
    """A real round trip with each service's own kind of client, on the printed URLs."""
    if "POSTGRES-SUPABASE-URL" in values:
        import asyncpg

        conn = await asyncpg.connect(values["POSTGRES-SUPABASE-URL"], timeout=10)
        try:  # migrated: the template had `alembic upgrade head`
            assert await conn.fetchval("SELECT to_regclass('marten.users')::text") == "marten.users"
            assert await conn.fetchval("SELECT current_database()") != "postgres"
        finally:
            await conn.close()
    if "REDIS-URL" in values:
        import redis.asyncio as aioredis

        async with aioredis.from_url(values["REDIS-URL"]) as client:
            assert await client.set("harness-cli", "1")
            assert await client.get("harness-cli") == b"1"
    if "MONGO-URL" in values:
        from motor.motor_asyncio import AsyncIOMotorClient

        mongo: AsyncIOMotorClient[dict[str, object]] = AsyncIOMotorClient(
            values["MONGO-URL"], serverSelectionTimeoutMS=10000
        )
        try:
            database = mongo.get_default_database()
            await database.probe.insert_one({"x": 1})
            assert await database.probe.count_documents({}) == 1
        finally:
            mongo.close()
    if "RABBITMQ-URL" in values:
        import aio_pika

        connection = await aio_pika.connect(values["RABBITMQ-URL"], timeout=10)
        try:
            channel = await connection.channel()
            queue = await channel.declare_queue(exclusive=True)
            await channel.default_exchange.publish(aio_pika.Message(b"hi"), routing_key=queue.name)
            message = await queue.get(timeout=10, fail=False)
            assert message is not None and message.body == b"hi"
        finally:
            await connection.close()


def _in_own_loop(
    check: Callable[[Mapping[str, str]], Awaitable[None]], values: Mapping[str, str]
) -> None:
    """Run an async check on an event loop of its own, in a thread: this sync test may run while
    the session's anyio loop (kept open by the harness's session fixtures) owns this thread."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(anyio.run, check, values).result(timeout=120)


def _passwords(values: Mapping[str, str]) -> list[str]:
    from urllib.parse import urlsplit

    return [p for v in values.values() if (p := urlsplit(v).password)]


# -- doctor ------------------------------------------------------------------------------------------
@_no_docker
def test_doctor_reports_each_resource_with_backend_versions_and_succeeds(tmp_path: Path) -> None:
    result = harness("doctor", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for title in ("RabbitMQ", "PostgreSQL", "MongoDB", "Redis"):
        assert re.search(rf"^{title} +local: .*no Docker daemon answers", out, re.M), out
    assert "no Docker daemon" in out
    assert re.search(r"version +postgres \(PostgreSQL\) \d+", out), out
    assert re.search(r"postgres +\S+/postgres$", out, re.M), out
    assert re.search(r"version +RabbitMQ \d+\.\d+\.\d+ \(Erlang/OTP \d+", out), out
    assert re.search(r"Redis server v=\d+", out), out
    assert re.search(r"(FerretDB v\d+\.\d+\.\d+|db version v\d+)", out), out
    assert re.search(r"^Go +(go version go\d|not found)", out, re.M), out
    assert f"State dir    {tmp_path / 'state'}  (0 run record(s), 0 orphaned)" in out
    assert "OK: all 4 resources this project uses can be provided." in out


def test_doctor_with_binaries_missing_says_what_to_install_and_fails(tmp_path: Path) -> None:
    bare = str(Path(sys.executable).parent)  # python only: no redis-server, epmd, go
    env = _env(tmp_path, PATH=bare, HARNESS_CACHE_DIR=str(tmp_path / "empty-cache"))
    result = harness("doctor", "--backend", "local", tmp_path=tmp_path, env=env)
    out = result.stdout
    flat = " ".join(out.split())  # the error paragraphs are wrapped
    assert result.returncode == 1, out + result.stderr
    assert "Redis        CANNOT BE PROVIDED" in out
    # choose()'s own error text, then the install step on a line of its own.
    assert "its local binaries are not installed." in flat
    assert "to fix it, install the local binaries:\n    apt-get install redis-server" in out
    assert "RabbitMQ     CANNOT BE PROVIDED" in out
    assert "    apt-get install rabbitmq-server" in out
    assert "    python -m harness build-ferretdb  (builds FerretDB" in out
    assert "      it needs Go first: apt-get install golang-go" in out
    assert "Go           not found  (needed only to build FerretDB" in out
    assert "NOT READY: cannot provide RabbitMQ, MongoDB, Redis" in out
    # PostgreSQL is still found in Debian's versioned directory, not on PATH.
    assert "PostgreSQL   local: backend forced to local; local binaries installed" in out

    only_postgres = harness(
        "doctor", "--backend", "local", "--resources", "postgres", tmp_path=tmp_path, env=env
    )
    assert only_postgres.returncode == 0, only_postgres.stdout
    assert "Redis        CANNOT BE PROVIDED  [not used by this project]" in only_postgres.stdout


@_no_docker
def test_doctor_with_docker_forced_but_absent_fails_with_the_fix(tmp_path: Path) -> None:
    result = harness("doctor", "--backend", "docker", "--resources", "redis", tmp_path=tmp_path)
    assert result.returncode == 1
    flat = " ".join(result.stdout.split())
    assert "the docker backend was requested for Redis but no Docker daemon" in flat
    assert "Start the Docker daemon, or run with --harness-backend=local" in flat


def test_doctor_shows_an_external_url_without_its_password(tmp_path: Path) -> None:
    env = _env(tmp_path, HARNESS_REDIS_URL="redis://:s3cret-pw@127.0.0.1:6399/0")
    result = harness("doctor", "--resources", "redis", tmp_path=tmp_path, env=env)
    assert result.returncode == 0, result.stdout
    assert "Redis        external: HARNESS_REDIS_URL is set (redis://:***@127.0.0.1:6399/0)" in (
        result.stdout
    )
    assert "s3cret-pw" not in result.stdout


def test_bad_arguments_are_usage_errors(tmp_path: Path) -> None:
    result = harness("up", "--resources", "postgres,kafka", tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "harness up: error: argument --resources: unknown resource kafka: choose from rabbitmq, "
        "postgres, mongo, redis"
    )
    result = harness("doctor", "--backend", "podman", tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "harness doctor: error: harness_backend (from --harness-backend on the command line) is "
        "'podman'; use one of auto, docker, local, external."
    )


@pytest.mark.parametrize(
    ("file", "text"),
    [
        ("pytest.ini", "[pytest]\nharness_env_map =\n    CACHE-URL=redis\n    FOO=kafka\n"),
        ("tox.ini", "[tox]\nenvlist = py\n\n[pytest]\nharness_env_map = FOO=kafka\n"),
        ("setup.cfg", "[metadata]\nname = x\n\n[tool:pytest]\nharness_env_map = FOO=kafka\n"),
        ("pytest.toml", '[pytest]\nharness_env_map = ["FOO=kafka"]\n'),
        ("pyproject.toml", '[tool.pytest]\nharness_env_map = ["FOO=kafka"]\n'),
    ],
)
def test_the_command_reads_the_ini_file_pytest_reads(tmp_path: Path, file: str, text: str) -> None:
    """From a subdirectory of a project whose pytest options are not in pyproject.toml, the
    command finds the root and its options as pytest does: a bad entry there is named, with the
    file it came from, before anything starts."""
    project = tmp_path / "project"
    (project / "src" / "deep").mkdir(parents=True)
    (project / file).write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "harness", "up", "--resources", "redis"],
        cwd=project / "src" / "deep",
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    last = result.stderr.splitlines()[-1]
    assert f"harness_env_map (from {file})" in last, last
    assert "FOO=kafka" in last and "kafka" in last


def test_an_ini_file_that_does_not_parse_is_a_usage_error(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\nharness_reuse = 1\nharness_reuse = 0\n")
    result = harness("doctor", "--rootdir", str(project), tmp_path=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"harness doctor: error: cannot read {project / 'pytest.ini'}: "), last
    assert last.endswith("Fix the file: pytest reads it too."), last


def test_build_ferretdb_still_works(tmp_path: Path) -> None:
    result = harness("build-ferretdb", tmp_path=tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr
    assert re.match(r"setup: FerretDB (built|already cached): /\S+ferretdb-harness-", result.stdout)


# -- up ------------------------------------------------------------------------------------------------
@pytest.mark.backend("local")
def test_up_prints_the_environment_serves_and_stops_clean_on_sigterm(
    tmp_path: Path, up_process: list[Up]
) -> None:
    up = Up(tmp_path, "--resources", "redis,postgres")
    up_process.append(up)
    up.wait_ready()
    values = up.dotenv()
    assert set(values) == {"POSTGRES-SUPABASE-URL", "REDIS-URL"}
    _in_own_loop(_answer, values)

    # Progress: a line per server as it became ready, addresses only: no credentials in logs.
    assert re.search(r"harness: redis +local +Redis \S+ +127\.0\.0\.1:\d+ +ready in", up.stderr)
    assert re.search(r"harness: postgres +local +PostgreSQL", up.stderr)
    assert not [p for p in _passwords(values) if p in up.stderr]
    # The shell block is valid shell: the function runs a command with the hyphenated names set.
    shell = up.stdout.split("# --- shell ---\n", 1)[1].split("# --- .env ---", 1)[0]
    seen = subprocess.run(
        ["bash", "-c", shell + "\nwith_harness_env env"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    assert f"POSTGRES-SUPABASE-URL={values['POSTGRES-SUPABASE-URL']}\n" in seen
    assert f"REDIS-URL={values['REDIS-URL']}\n" in seen

    record = up.record()
    state = record.load()
    assert set(state.servers) == {"redis", "postgres"}
    processes, workdirs = _processes(state), _workdirs(state)
    assert processes and all(p.alive() for p in processes)

    assert up.stop(signal.SIGTERM) == 0, up.stderr
    assert "harness up: SIGTERM: stopping" in up.stderr
    assert up.stderr.rstrip().endswith("harness up: stopped")
    _assert_gone(processes, workdirs)
    assert not record.path.exists()


@pytest.mark.backend("local")
def test_up_all_four_writes_a_private_env_file_and_stops_on_ctrl_c(
    tmp_path: Path, up_process: list[Up]
) -> None:
    env_file = tmp_path / "dev.env"
    up = Up(tmp_path, "--env-file", str(env_file), "--with-test-env")
    up_process.append(up)
    up.wait_ready()
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
    assert {"POSTGRES-SUPABASE-URL", "RABBITMQ-URL", "MONGO-URL", "REDIS-URL"} <= set(values)
    static = read_env_file(ROOT / ".env.test")
    assert static and {k: values[k] for k in static} == static  # .env.test, as asked
    _in_own_loop(_answer, values)
    # Written to the file, so not on the terminal at all.
    assert up.stdout == ""
    assert not [p for p in _passwords(values) if p in up.stderr]
    for name in ("rabbitmq", "postgres", "mongo", "redis"):
        assert re.search(rf"harness: {name} +local .* ready in", up.stderr), up.stderr

    record = up.record()
    state = record.load()
    processes, workdirs = _processes(state), _workdirs(state)
    assert len(state.servers) == 4

    assert up.stop(signal.SIGINT) == 0, up.stderr
    _assert_gone(processes, workdirs)
    assert not record.path.exists()


def test_up_that_cannot_start_exits_1_and_leaves_nothing_running(tmp_path: Path) -> None:
    # Redis starts, then PostgreSQL's migrations fail: the started Redis must be stopped again.
    ini = make_chain(
        tmp_path / "project", ("bad1", None, "SELECT * FROM no_such_table", "SELECT 1")
    )
    result = harness(
        "up",
        "--resources",
        "redis,postgres",
        "--harness-alembic-ini",
        str(ini),
        tmp_path=tmp_path,
        timeout=START_TIMEOUT,
    )
    assert result.returncode == 1, result.stderr
    assert "harness up: could not start the servers:" in result.stderr
    assert "`alembic upgrade head` (to bad1) failed with ProgrammingError" in result.stderr
    assert result.stdout == ""
    # Redis was started and stopped again: no record or lock file, no temp dir.
    assert not list((tmp_path / "state" / "runs").iterdir())
    assert not list((tmp_path / "state" / "servers").glob("*"))

    unavailable = harness("up", "--backend", "external", "--resources", "redis", tmp_path=tmp_path)
    assert unavailable.returncode == 1
    assert "harness up: cannot start: the external backend needs HARNESS_REDIS_URL" in (
        unavailable.stderr
    )
    assert "Run `harness doctor`" in unavailable.stderr

    unwritable = tmp_path / "missing-dir" / "dev.env"
    no_file = harness(
        "up", "--resources", "redis", "--env-file", str(unwritable), tmp_path=tmp_path
    )
    assert no_file.returncode == 1
    assert f"harness up: cannot write {unwritable}: No such file or directory" in no_file.stderr
    assert not list((tmp_path / "state" / "servers").glob("*"))


@pytest.mark.backend("local")
def test_sigterm_while_starting_stops_what_was_started(tmp_path: Path) -> None:
    up = Up(tmp_path, "--resources", "rabbitmq,redis")
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not re.search(r"harness: redis .* ready", up.stderr):  # RabbitMQ takes seconds more
            assert up.proc.poll() is None and time.monotonic() < deadline, up.stderr
            time.sleep(0.05)
        assert "harness up: ready" not in up.stderr
        state = RunRecord(tmp_path / "state", next((tmp_path / "state/runs").glob("*.json")).stem)
        processes = _processes(state.load())
        assert processes, "redis (at least) is recorded"
        assert up.stop(signal.SIGTERM) == 0, up.stderr
        _assert_gone(processes, [])
    finally:
        up.kill()
    assert "harness up: SIGTERM: stopping" in up.stderr
    assert up.stdout == ""  # never got to print an environment
    assert not list((tmp_path / "state" / "runs").iterdir()), "a record or lock file was left"
    assert not list((tmp_path / "state" / "servers").glob("*")), "temp dirs left behind"
    assert harness("reap", tmp_path=tmp_path).stdout == "harness reap: no orphaned runs\n"


# -- reap and down ----------------------------------------------------------------------------------
@pytest.mark.backend("local")
def test_reap_stops_the_servers_of_a_killed_up(tmp_path: Path, up_process: list[Up]) -> None:
    up = Up(tmp_path, "--resources", "redis")
    up_process.append(up)
    up.wait_ready()
    record = up.record()
    state = record.load()
    processes, workdirs = _processes(state), _workdirs(state)
    up.kill()  # SIGKILL: no chance to stop its servers
    assert all(p.alive() for p in processes), "servers run in their own session: they survive"

    doctor = harness("doctor", "--resources", "redis", tmp_path=tmp_path)
    assert "(1 run record(s), 1 orphaned)" in doctor.stdout
    assert f"run {record.key}: orphaned" in doctor.stdout

    reaped = harness("reap", tmp_path=tmp_path)
    assert reaped.returncode == 0, reaped.stderr
    assert reaped.stdout == f"harness reap: stopped redis (local) of run {record.key}\n"
    _assert_gone(processes, workdirs)
    again = harness("reap", tmp_path=tmp_path)
    assert again.stdout == "harness reap: no orphaned runs\n"


@pytest.mark.backend("local")
def test_up_reuse_keeps_servers_until_down(tmp_path: Path, up_process: list[Up]) -> None:
    up = Up(tmp_path, "--resources", "redis", "--reuse")
    up_process.append(up)
    up.wait_ready()
    record = up.record()
    assert record.key.startswith("reuse-")
    state = record.load()
    processes, workdirs = _processes(state), _workdirs(state)

    busy = harness("down", tmp_path=tmp_path)
    assert busy.returncode == 1
    assert f"in use by PID {up.proc.pid}" in busy.stderr

    assert up.stop() == 0, up.stderr
    assert "harness up: stopped (kept running: --reuse; `harness down` stops them)" in up.stderr
    assert all(p.alive() for p in processes), "--reuse keeps the servers"
    doctor = harness("doctor", "--resources", "redis", tmp_path=tmp_path)
    assert f"run {record.key}: reused servers, kept running" in doctor.stdout
    assert "0 orphaned" in doctor.stdout
    assert harness("reap", tmp_path=tmp_path).stdout == "harness reap: no orphaned runs\n"
    assert "OK: the resource this project uses can be provided." in doctor.stdout

    again_up = Up(tmp_path, "--resources", "redis", "--reuse")  # reattaches: starts nothing
    up_process.append(again_up)
    again_up.wait_ready()
    assert re.search(r"harness: redis +local .* reused \(ready in", again_up.stderr)
    assert again_up.record().load().servers["redis"].processes == state.servers["redis"].processes
    assert again_up.stop() == 0, again_up.stderr

    down = harness("down", tmp_path=tmp_path)
    assert down.returncode == 0, down.stderr
    assert re.fullmatch(r"harness down: stopped redis \(local, 127\.0\.0\.1:\d+\)\n", down.stdout)
    _assert_gone(processes, workdirs)
    assert not record.path.exists()
    again = harness("down", tmp_path=tmp_path)
    assert again.stdout == "harness down: no reused servers are running for this project\n"


def test_a_service_runs_under_uvicorn_against_harness_up(
    tmp_path: Path, up_process: list[Up]
) -> None:
    """The developer loop the README promises: `harness up`, then uvicorn with its environment."""
    import httpx

    from harness._process import free_port

    up = Up(tmp_path, "--resources", "postgres,redis", "--with-test-env")
    up_process.append(up)
    up.wait_ready()
    port = free_port()
    with (tmp_path / "uvicorn.log").open("w") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "services.auth_service.app.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env={**_env(tmp_path), **up.dotenv()},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert server.poll() is None, (tmp_path / "uvicorn.log").read_text()
            try:
                response = httpx.post(
                    f"http://127.0.0.1:{port}/auth/login",
                    json={"email": "nobody@example.com", "password": "wrong-password"},
                    timeout=5,
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, (tmp_path / "uvicorn.log").read_text()
                time.sleep(0.1)
        # A real round trip through PostgreSQL (no such user) and Redis (the failure counter).
        assert response.status_code == 401, response.text
        assert httpx.get(f"http://127.0.0.1:{port}/auth/me", timeout=5).status_code == 401
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=STOP_TIMEOUT)
    # uvicorn re-raises the SIGTERM after a clean shutdown: the log says the lifespan closed.
    assert "Application shutdown complete" in (tmp_path / "uvicorn.log").read_text()
    assert up.stop() == 0
