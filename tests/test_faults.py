"""Fault injection: servers killed, hung or never ready, interrupts, crashed workers, recycled
PIDs, a state dir that cannot be written. Each fault ends in a message that names it, within a
bound, with nothing left behind: no process of the run (by recorded PID, its children and its
process group), no run record or lock file, no server temp dir.

Tests that kill a server start their own (own state dir); the others join the session's.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import psutil
import pytest

from harness._config import HarnessConfig
from harness._infra import Infrastructure, reap
from harness._lock import RecordLock
from harness._migrations import _versions_hash
from harness._process import ProcessRecord
from harness._state import RunRecord, RunState
from harness.resources import REGISTRY, Server
from tests.conftest import InnerRun
from tests.test_cli import STOP_TIMEOUT, Up, _in_own_loop
from tests.test_lifecycle import PYTEST, own_run_env

ROOT = Path(__file__).resolve().parents[1]
RUN_TIMEOUT = 240.0
"""Bound on any inner run or command here: a hang fails the test instead of hanging it."""


# -- what a run leaves behind ------------------------------------------------------------------------
RECORD_SERVERS = '''
import json, os, psutil

def record_servers(infra):
    """Write every process of the session's servers (children included) and their temp dirs."""
    processes = []
    for server in infra.servers.values():
        for record in server.processes:
            processes.append([record.pid, record.create_time])
            try:
                children = psutil.Process(record.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                children = []
            processes += [[child.pid, child.create_time()] for child in children]
    path = os.environ["FLAG_FILE"]
    with open(path + ".tmp", "w") as file:
        json.dump({"processes": processes, "workdirs": [s.workdir for s in infra.servers.values()]}, file)
    os.rename(path + ".tmp", path)
'''


def recorded(flag: Path) -> tuple[list[ProcessRecord], list[Path]]:
    data = json.loads(flag.read_text())
    return [ProcessRecord(pid, ctime) for pid, ctime in data["processes"]], [
        Path(d) for d in data["workdirs"] if d
    ]


def group_members(leaders: Iterable[ProcessRecord]) -> list[int]:
    """Live processes in the process group of any of *leaders* (servers lead their own group)."""
    groups = {record.pid for record in leaders}
    members = []
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) in groups and proc.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members


def assert_nothing_left(
    state: Path, processes: Iterable[ProcessRecord] = (), workdirs: Iterable[Path] = ()
) -> None:
    """No recorded process or member of its group runs, no file under ``runs/``, no temp dir."""
    processes, workdirs = list(processes), list(workdirs)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (
        any(p.alive() for p in processes) or group_members(processes)
    ):
        time.sleep(0.1)
    assert not [p.pid for p in processes if p.alive()], "server processes left running"
    assert not group_members(processes), "processes left in the servers' process groups"
    runs = state / "runs"
    assert not runs.is_dir() or not list(runs.iterdir()), sorted(runs.iterdir())
    assert not [w for w in workdirs if w.exists()], "server temp dirs left behind"
    servers = state / "servers"
    assert not servers.is_dir() or not list(servers.iterdir()), sorted(servers.iterdir())


def section(output: str, test: str) -> str:
    """The failure report of *test* in pytest's output (between its header and the next)."""
    found = re.search(rf"^_+ {re.escape(test)} _+$(.*?)(?=^_+ \S.* _+$|^=+ )", output, re.M | re.S)
    assert found, f"no failure section for {test}:\n{output}"
    return found.group(1)


# -- a server killed mid-run ---------------------------------------------------------------------------
USE = {
    "postgres": "assert await harness.postgres().fetchval('SELECT 1') == 1",
    "redis": "assert await harness.redis().ping()",
    "mongo": "await harness.mongo().probe.find_one({})",
    "rabbitmq": "await (await harness.rabbitmq().declare_queue(exclusive=True)).delete()",
}

KILLED_MID_RUN = """
import os, signal, anyio, pytest, harness
pytestmark = pytest.mark.anyio

async def use():
    {use}

async def test_before({name}_url):
    await use()

async def test_killed_while_in_use({name}_url, harness_infra):
    record_servers(harness_infra)
    os.killpg(harness_infra.servers["{name}"].processes[0].pid, signal.SIGKILL)
    for _ in range(600):  # the driver notices in its own time: use it until it fails
        await use()
        await anyio.sleep(0.05)
    pytest.fail("still answering 30 s after SIGKILL")

async def test_after({name}_url):
    await use()
"""


@pytest.mark.parametrize("name", ["postgres", "redis", "mongo", "rabbitmq"])
def test_a_server_killed_mid_run_fails_the_first_test_with_its_name_and_log(
    inner_pytest: InnerRun, pytester: pytest.Pytester, tmp_path: Path, name: str
) -> None:
    pytester.makepyfile(test_kill=RECORD_SERVERS + KILLED_MID_RUN.format(name=name, use=USE[name]))
    flag, state = tmp_path / "flag.json", tmp_path / "state"
    env = {"HARNESS_STATE_DIR": str(state), "FLAG_FILE": str(flag), "COLUMNS": "1000"}
    result = inner_pytest("-p", "no:randomly", "-rfE", join=False, env=env, timeout=RUN_TIMEOUT)

    result.assert_outcomes(passed=1, failed=1, errors=1)
    title = REGISTRY[name].title
    died = rf"harness\._exceptions\.ServerDiedError: {title} \(local, 127\.0\.0\.1:\d+\) stopped during the run"
    output = result.stdout.str()
    # The first failing test already names the server, not only the driver's error...
    assert re.search(rf"^FAILED test_kill\.py::test_killed_while_in_use - {died}", output, re.M), (
        output
    )
    first = section(output, "test_killed_while_in_use")
    assert "The above exception was the direct cause of the following exception" in first
    assert "Last lines of the server's log:" in first, first  # its log tail
    # ... and the tests after it fail at once in their setup.
    assert re.search(rf"^ERROR test_kill\.py::test_after - {died}", output, re.M), output
    assert_nothing_left(state, *recorded(flag))


# -- harness up with a server that dies ----------------------------------------------------------------
@pytest.mark.backend("local")  # kills the server's process
def test_harness_up_names_the_server_that_died_stops_the_others_and_exits_1(
    tmp_path: Path,
) -> None:
    up = Up(tmp_path, "--resources", "redis,postgres", "--harness-alembic-ini", "")
    try:
        up.wait_ready()
        state = up.record().load()
        processes = [p for s in state.servers.values() for p in s.processes]
        workdirs = [Path(s.workdir) for s in state.servers.values() if s.workdir]
        postgres = state.servers["postgres"].processes[0]
        processes += [
            ProcessRecord(c.pid, c.create_time())
            for c in psutil.Process(postgres.pid).children(recursive=True)
        ]
        os.kill(postgres.pid, signal.SIGKILL)
        status = up.proc.wait(timeout=STOP_TIMEOUT)
    finally:
        up.kill()
    assert status == 1, up.stderr
    assert re.search(
        r"^harness up: PostgreSQL \(local, 127\.0\.0\.1:\d+\) stopped during the run: ",
        up.stderr,
        re.M,
    ), up.stderr
    assert re.search(r"^Last lines of the server's log:\n.*LOG: ", up.stderr, re.M), up.stderr
    assert "harness up: stopping redis" in up.stderr
    assert_nothing_left(tmp_path / "state", processes, workdirs)


# -- a server that never becomes ready -----------------------------------------------------------------
FAKE_REDIS = """#!{python}
# A redis-server that {how}.
import os, socket, sys, time
port = int(sys.argv[sys.argv.index("--port") + 1])
with open(os.environ["FAKE_PID_FILE"], "a") as f:
    f.write(f"{{os.getpid()}}\\n")
print("fake redis-server: starting on port", port, flush=True)
if {exits}:
    print("fake redis-server: FATAL: cannot open the data dir", flush=True)
    sys.exit(1)
listener = socket.create_server(("127.0.0.1", port))
held = []
while True:  # accepts connections, never answers one
    held.append(listener.accept()[0])
"""


SILENT = (
    r"Redis \(\S+/redis-server, port \d+\) did not answer within 3 s \(\d+ attempts?\): "
    r"last error \w+"
)
EXITS = r"Redis \(\S+/redis-server, port \d+\) exited during startup"


@pytest.mark.parametrize(
    ("how", "exits", "message", "xdist"),
    [
        ("listens but never answers", False, SILENT, False),
        ("exits at once", True, EXITS, False),
        ("exits at once", True, EXITS, True),
    ],
    ids=["silent", "exits", "exits-under-xdist"],
)
def test_a_server_that_never_becomes_ready_fails_within_the_startup_timeout(
    inner_pytest: InnerRun,
    pytester: pytest.Pytester,
    tmp_path: Path,
    how: str,
    exits: bool,
    message: str,
    xdist: bool,
) -> None:
    fake_bin, pids = tmp_path / "bin", tmp_path / "fake.pids"
    fake_bin.mkdir()
    fake = fake_bin / "redis-server"
    fake.write_text(FAKE_REDIS.format(python=sys.executable, how=how, exits=exits))
    fake.chmod(0o755)
    pytester.makepyfile(
        test_needs_redis="""
        import pytest

        @pytest.mark.parametrize("n", range(4))
        def test_needs_redis(n, redis_url):
            pass
        """
    )
    state = tmp_path / "state"
    env = {
        "HARNESS_STATE_DIR": str(state),
        "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}",
        "FAKE_PID_FILE": str(pids),
    }
    args = ["--harness-startup-timeout=3", "--harness-backend=local", "-p", "no:randomly"]
    result = inner_pytest(*args, *(["-n", "2"] if xdist else []), join=False, env=env)
    output = result.stdout.str() + result.stderr.str()
    if xdist:  # the workers error their tests with it, then stop the run
        assert result.ret == pytest.ExitCode.INTERRUPTED, output
        assert "passed" not in result.outlines[-1]
    else:  # pytest stops before the first test
        assert result.ret == 3, output
    assert "harness could not start the test infrastructure" in output
    assert re.search(message, output), output
    assert "Hint: read the server's log below; raise harness_startup_timeout" in output
    assert "fake redis-server: starting on port" in output  # the log tail
    assert "rerun with --harness-keep-workdir" in output
    started = [int(pid) for pid in pids.read_text().split()]
    assert started, "the fake server never ran"
    assert not [pid for pid in started if _ours(pid, fake)], "the fake server still runs"
    assert_nothing_left(state)  # under xdist too: the failure record goes with the run


def test_keep_workdir_keeps_a_failed_server_s_directory_and_names_it(
    inner_pytest: InnerRun, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    fake_bin, pids = tmp_path / "bin", tmp_path / "fake.pids"
    fake_bin.mkdir()
    fake = fake_bin / "redis-server"
    fake.write_text(FAKE_REDIS.format(python=sys.executable, how="exits at once", exits=True))
    fake.chmod(0o755)
    pytester.makepyfile(test_needs_redis="def test_needs_redis(redis_url):\n    pass\n")
    env = {
        "HARNESS_STATE_DIR": str(tmp_path / "state"),
        "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}",
        "FAKE_PID_FILE": str(pids),
    }
    result = inner_pytest("--harness-backend=local", "--harness-keep-workdir", join=False, env=env)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == 3, output
    kept = re.search(r"Its directory is kept, with the full log \(server\.log\): (\S+)\. ", output)
    assert kept, output
    log = Path(kept[1]) / "server.log"
    assert "fake redis-server: FATAL: cannot open the data dir" in log.read_text()
    assert not [pid for pid in map(int, pids.read_text().split()) if _ours(pid, fake)]
    assert "--harness-keep-workdir." not in output  # no advice to do what was done
    # the next run neither reaps it nor trips over it
    again = inner_pytest("--harness-backend=local", join=False, env=env)
    assert again.ret == 3
    assert log.is_file()


def _ours(pid: int, fake: Path) -> bool:
    """Whether *pid* is still our fake server (by its command line: the PID may be reused)."""
    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and str(fake) in " ".join(proc.cmdline())
    except psutil.NoSuchProcess:
        return False


# -- Ctrl-C while the servers start ------------------------------------------------------------------
def test_ctrl_c_while_servers_start_stops_everything_started_so_far(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    pytester.makepyfile(test_two="def test_needs_two(redis_url, rabbitmq_url):\n    pass\n")
    victim = subprocess.Popen(
        [*PYTEST, "test_two.py"],
        cwd=pytester.path,
        env=own_run_env(state),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        servers = _wait_for_starting(state, victim)
        victim.send_signal(signal.SIGINT)
        output, _ = victim.communicate(timeout=RUN_TIMEOUT)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.communicate()
    assert victim.returncode != 0
    assert "KeyboardInterrupt" in output, output
    assert "1 passed" not in output
    processes = [p for s in servers.values() for p in s.processes]
    assert_nothing_left(state, processes, [Path(s.workdir) for s in servers.values() if s.workdir])


def _wait_for_starting(state: Path, victim: subprocess.Popen[str]) -> dict[str, Server]:
    """The run's servers once Redis answers and RabbitMQ (seconds slower) is still starting."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline and victim.poll() is None:
        for path in (state / "runs").glob("*.json") if (state / "runs").is_dir() else []:
            servers = RunRecord(state, path.stem).load().servers
            redis, rabbitmq = servers.get("redis"), servers.get("rabbitmq")
            if redis and redis.version and rabbitmq and rabbitmq.processes:
                assert not rabbitmq.version, "RabbitMQ was ready already: too late to interrupt"
                return servers
        time.sleep(0.02)
    victim.kill()
    pytest.fail(f"the servers never got to starting:\n{victim.communicate()[0]}")


# -- an xdist worker that crashes ------------------------------------------------------------------------
CRASHING_WORKER = (
    RECORD_SERVERS
    + """
import json, os, pathlib, time, psutil, pytest, harness
pytestmark = pytest.mark.anyio
BARRIER = pathlib.Path(os.environ["BARRIER_DIR"])
LAST = os.environ["CRASH"] == "last"

def wait(condition):
    deadline = time.monotonic() + 120
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.05)

def gone(pid):
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True

async def test_crashes(worker_id, postgres_url, harness_infra):
    record_servers(harness_infra)
    (BARRIER / f"db-{worker_id}").write_text(postgres_url.rsplit("/", 1)[1])
    if LAST:  # once the other worker has gone: nobody is left to stop or drop anything
        wait(lambda: len(json.loads(harness_infra.record.path.read_text())["leases"]) == 1)
    (BARRIER / "crashing").write_text(str(os.getpid()))
    os._exit(1)  # a segfault, an OOM kill: no teardown at all

async def test_goes_on(worker_id, postgres_url):
    (BARRIER / f"db-{worker_id}").write_text(postgres_url.rsplit("/", 1)[1])
    if not LAST:  # the other worker crashes while this one still runs
        wait(lambda: (BARRIER / "crashing").exists())
        wait(lambda: gone(int((BARRIER / "crashing").read_text())))
    assert await harness.postgres().fetchval("SELECT 1") == 1
"""
)


@pytest.mark.parametrize(
    ("backend", "crash"),
    [("local", "while"), ("local", "last"), ("external", "while")],
    ids=["other-still-running", "other-already-gone", "external-server"],
)
def test_a_crashed_xdist_worker_leaves_no_server_nor_namespace_behind(
    inner_pytest: InnerRun,
    pytester: pytest.Pytester,
    tmp_path: Path,
    harness_infra: Infrastructure,
    postgres_url: str,
    backend: str,
    crash: str,
) -> None:
    barrier, flag, state = tmp_path / "barrier", tmp_path / "flag.json", tmp_path / "state"
    barrier.mkdir()
    pytester.makepyfile(test_crash=CRASHING_WORKER)
    env = {
        "BARRIER_DIR": str(barrier),
        "FLAG_FILE": str(flag),
        "HARNESS_STATE_DIR": str(state),
        "CRASH": crash,
    }
    admin = harness_infra.servers["postgres"].url
    if backend == "external":  # the session's PostgreSQL, as a server the harness does not own
        env["HARNESS_POSTGRES_URL"] = admin
    args = ["-n", "2", "-p", "no:randomly"]  # one test per worker
    result = inner_pytest(*args, join=False, env=env, timeout=RUN_TIMEOUT)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.re_match_lines(
        [r".*worker 'gw\d' crashed while running 'test_crash.py::test_crashes'"]
    )
    databases = [path.read_text() for path in barrier.glob("db-*")]
    assert len(databases) == 2  # the crashed worker's and the other's

    async def none_left(values: Mapping[str, str]) -> None:
        connection = await asyncpg.connect(values["admin"], timeout=10)
        try:
            left = await connection.fetch(
                "SELECT datname FROM pg_database WHERE datname = ANY($1::text[])", databases
            )
        finally:
            await connection.close()
        assert not left, f"databases left on the server: {left}"

    if backend == "external":
        _in_own_loop(none_left, {"admin": admin})
        assert_nothing_left(state)
    else:
        assert_nothing_left(state, *recorded(flag))


# -- reuse after a server hung ---------------------------------------------------------------------------
def test_a_hung_reused_server_is_replaced_and_the_stopped_process_cleaned_up(
    inner_pytest: InnerRun, pytester: pytest.Pytester, tmp_path: Path
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
    state = tmp_path / "state"
    env = {"HARNESS_STATE_DIR": str(state)}
    inner_pytest("-q", join=False, env=env).assert_outcomes(passed=1)
    (path,) = (state / "runs").glob("*.json")
    record = RunRecord(state, path.stem)
    old = record.load().servers["redis"]
    os.kill(old.processes[0].pid, signal.SIGSTOP)  # alive, but answers nothing
    try:
        second = inner_pytest("-q", "-s", join=False, env=env, timeout=RUN_TIMEOUT)
        second.assert_outcomes(passed=1)
        line = next(line for line in second.outlines if line.startswith("harness: redis"))
        assert "reused" not in line, line  # started anew
        new = record.load().servers["redis"]
        assert new.processes[0].pid != old.processes[0].pid and new.processes[0].alive()
        assert_nothing_left(tmp_path / "no-state", old.processes, [Path(old.workdir or "/-")])
    finally:
        if old.processes[0].alive():
            os.kill(old.processes[0].pid, signal.SIGKILL)
        down = subprocess.run(
            [sys.executable, "-m", "harness", "down", "--rootdir", str(pytester.path)],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
    assert down.returncode == 0, down.stderr
    assert_nothing_left(state, new.processes, [Path(new.workdir or "/-")])


HOLDER = """
import os, pathlib, time, pytest, harness
pytestmark = pytest.mark.anyio

async def test_holds_the_servers(redis_url):
    assert await harness.redis().ping()
    pathlib.Path(os.environ["HELD"]).touch()
    deadline = time.monotonic() + 120
    while not pathlib.Path(os.environ["RELEASE"]).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
"""


def test_a_hung_shared_server_is_left_to_the_process_using_it(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """A process joining a run whose server hangs fails, and leaves the server to the process
    that still uses it (it is never stopped or replaced under a live lease)."""
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\nharness_reuse = true\n")
    pytester.makepyfile(test_hold=HOLDER, test_join="def test_joins(redis_url):\n    pass\n")
    state, held, release = tmp_path / "state", tmp_path / "held", tmp_path / "release"
    env = own_run_env(state, HELD=str(held), RELEASE=str(release))
    log = tmp_path / "holder.log"
    with log.open("w") as out:
        holder = subprocess.Popen(
            [*PYTEST, "test_hold.py"], cwd=pytester.path, env=env, stdout=out, stderr=out
        )
    hung: Server | None = None
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while not held.exists():
            assert holder.poll() is None and time.monotonic() < deadline, "the holder never ran"
            time.sleep(0.1)
        (path,) = (state / "runs").glob("*.json")
        hung = RunRecord(state, path.stem).load().servers["redis"]
        os.kill(hung.processes[0].pid, signal.SIGSTOP)  # alive, but answers nothing
        joined = subprocess.run(
            [*PYTEST, "--harness-startup-timeout=2", "test_join.py"],
            cwd=pytester.path,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
        output = joined.stdout + joined.stderr
        assert joined.returncode == 3, output
        assert re.search(
            r"Redis \(local, 127\.0\.0\.1:\d+\) is used by other pytest processes of this run but "
            r"did not answer within 2 s: it is left running for them\.",
            output,
        ), output
        assert hung.processes[0].alive()  # neither stopped nor replaced
        assert RunRecord(state, path.stem).load().servers["redis"].processes == hung.processes
    finally:
        if hung is not None:
            os.kill(hung.processes[0].pid, signal.SIGCONT)
        release.touch()
        holder.wait(timeout=RUN_TIMEOUT)
        subprocess.run(
            [sys.executable, "-m", "harness", "down", "--rootdir", str(pytester.path)],
            env=env,
            capture_output=True,
            timeout=RUN_TIMEOUT,
        )
    assert holder.returncode == 0, log.read_text()
    assert hung is not None
    assert_nothing_left(state, hung.processes, [Path(hung.workdir or "/-")])


# -- a migration edited between two reuse runs -------------------------------------------------------
def test_every_file_alembic_reads_is_in_the_template_hash(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(ROOT / "shared" / "migrations", project / "migrations")
    ini = project / "migrations" / "alembic.ini"
    outside = project / "more_versions"
    outside.mkdir()
    with ini.open("a") as file:  # a second version location outside the script location
        file.write("\n")
    text = ini.read_text().replace(
        "version_locations = %(here)s/versions",
        "version_locations = %(here)s/versions %(here)s/../more_versions",
    )
    ini.write_text(text)
    seen = {_versions_hash(ini)}
    for edited in [
        ini,
        project / "migrations" / "env.py",
        project / "migrations" / "script.py.mako",
        next((project / "migrations" / "versions").glob("*.py")),
        outside / "0099_added.py",
    ]:
        with edited.open("a") as file:
            file.write("\n# edited\n")
        seen.add(_versions_hash(ini))
    assert len(seen) == 6, "an edit did not change the template's hash"
    (project / "migrations" / "__pycache__").mkdir(exist_ok=True)
    (project / "migrations" / "__pycache__" / "env.cpython-311.pyc").write_bytes(b"\0")
    assert _versions_hash(ini) in seen  # bytecode is not what alembic reads


NEW_REVISION = '''"""add a table"""
from alembic import op
import sqlalchemy as sa

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("added_later", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("added_later")
'''


def test_a_migration_added_between_two_reuse_runs_rebuilds_the_template(
    inner_pytest: InnerRun, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    shutil.copytree(ROOT / "shared" / "migrations", pytester.path / "migrations")
    pytester.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        harness_reuse = true
        harness_alembic_ini = "migrations/alembic.ini"
        harness_env_map = ["POSTGRES-SUPABASE-URL=postgres"]
        """
    )
    pytester.makepyfile(
        test_table="""
        import os, pytest, harness
        pytestmark = pytest.mark.anyio

        async def test_table(postgres_url):
            found = await harness.postgres().fetchval("SELECT to_regclass('public.added_later')")
            assert (found is not None) == (os.environ["EXPECT_TABLE"] == "yes")
        """
    )
    state = tmp_path / "state"
    env = {"HARNESS_STATE_DIR": str(state), "PYTHONPATH": str(ROOT)}
    try:
        inner_pytest(join=False, env={**env, "EXPECT_TABLE": "no"}).assert_outcomes(passed=1)
        (path,) = (state / "runs").glob("*.json")
        record = RunRecord(state, path.stem)
        first = record.load().servers["postgres"]
        script = _head_revision(pytester.path / "migrations" / "versions")
        (
            pytester.path / "migrations" / "versions" / "2099_01_01_0000-9999_added_later.py"
        ).write_text(NEW_REVISION.format(rev="9999", down=script))
        second = inner_pytest("-s", join=False, env={**env, "EXPECT_TABLE": "yes"})
        second.assert_outcomes(passed=1)
        server = record.load().servers["postgres"]
        assert any("reused" in line for line in second.outlines if line.startswith("harness: p"))
        assert server.processes == first.processes  # the same server...
        assert server.extra["template"] != first.extra["template"]  # ...a rebuilt template
    finally:
        subprocess.run(
            [sys.executable, "-m", "harness", "down", "--rootdir", str(pytester.path)],
            env={**os.environ, **env},
            capture_output=True,
            timeout=RUN_TIMEOUT,
        )
    assert_nothing_left(state, first.processes)


def _head_revision(versions: Path) -> str:
    """The revision no other file names as its down_revision."""
    revisions, parents = set(), set()
    for path in versions.glob("*.py"):
        text = path.read_text()
        revisions |= set(re.findall(r'^revision(?:: str)? = "(\w+)"', text, re.M))
        parents |= set(re.findall(r'^down_revision[^=]* = "(\w+)"', text, re.M))
    (head,) = revisions - parents
    return head


# -- a recycled PID in an orphan record ------------------------------------------------------------
def test_a_recycled_pid_in_an_orphan_record_is_never_killed(tmp_path: Path) -> None:
    # Someone else's process now has the recorded PID: same number, another start time.
    someone = subprocess.Popen(
        ["sleep", "300"],
        start_new_session=True,
        user="nobody" if os.geteuid() == 0 else None,
    )
    try:
        real = ProcessRecord.of(someone.pid)
        state = tmp_path / "state"
        workdir = state / "servers" / "redis-killed"
        workdir.mkdir(parents=True)
        server = Server(
            "redis",
            "local",
            "redis://127.0.0.1:1/0",
            processes=[ProcessRecord(real.pid, real.create_time - 1000)],
            workdir=str(workdir),
        )
        RunRecord(state, "killed").save(
            RunState(servers={"redis": server}, leases={"999999:dead": 1.0})
        )
        reaped = reap(HarnessConfig(rootdir=tmp_path, state_dir=state))
        assert reaped == ["redis (local) of run killed"]
        assert someone.poll() is None and real.alive(), "reaping killed a stranger's process"
        assert group_members([real]) == [someone.pid]  # nor anything of its group
        assert_nothing_left(state, workdirs=[workdir])
    finally:
        someone.kill()
        someone.wait(timeout=10)


# -- the state dir cannot be written -----------------------------------------------------------------
def _in_private_mount(options: str, fill: bool) -> list[str]:
    """A shell prefix: a tmpfs mounted on $STATE_DIR in a mount namespace of the command's own
    (gone with it), filled up if *fill*; then the command in "$@"."""
    mount = f'mount -t tmpfs -o {options} tmpfs "$STATE_DIR"'
    filling = ' && (cat /dev/zero > "$STATE_DIR/filler" 2>/dev/null; true)' if fill else ""
    namespace = ["--mount"] if os.geteuid() == 0 else ["--user", "--map-root-user", "--mount"]
    script = f'{mount}{filling} && exec "$@"'
    return ["unshare", *namespace, "sh", "-c", script, "sh"]


@pytest.mark.parametrize(
    ("options", "fill", "reason"),
    [
        ("ro,size=1m", False, "Read-only file system"),
        ("size=256k", True, "No space left on device"),
    ],
    ids=["read-only", "full"],
)
def test_a_state_dir_that_cannot_be_written_is_one_clear_error(
    pytester: pytest.Pytester, tmp_path: Path, options: str, fill: bool, reason: str
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    pytester.makepyfile(test_needs_redis="def test_needs_redis(redis_url):\n    pass\n")
    result = subprocess.run(
        [*_in_private_mount(options, fill), *PYTEST, "test_needs_redis.py"],
        cwd=pytester.path,
        env=own_run_env(state, STATE_DIR=str(state)),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert "harness could not start the test infrastructure:" in output
    assert f"cannot write the harness state dir {state} ({reason})" in output, output
    assert "point harness_state_dir (ini) / --harness-state-dir / HARNESS_STATE_DIR at a" in output
    assert "Traceback" not in output
    assert_nothing_left(state)  # the tmpfs went with its namespace: this is the dir below


# -- locks -------------------------------------------------------------------------------------------
def _hold(path: str, ready: str) -> None:
    RecordLock(Path(path)).acquire(timeout=10)
    Path(ready).touch()
    time.sleep(600)


def test_a_lock_whose_holder_died_is_taken_without_waiting(tmp_path: Path) -> None:
    runs = tmp_path / "state" / "runs"
    record = RunRecord(tmp_path / "state", "crashed")
    ready = tmp_path / "ready"
    holder = multiprocessing.get_context("spawn").Process(
        target=_hold, args=(str(record.lock.path), str(ready))
    )
    holder.start()
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert holder.is_alive() and time.monotonic() < deadline
            time.sleep(0.05)
        with pytest.raises(TimeoutError):
            record.lock.acquire(timeout=0)  # held: a real lock
    finally:
        holder.kill()
        holder.join(timeout=10)
    assert record.lock.path.exists(), "precondition: the dead holder left its file"
    record.lock.acquire(timeout=0)  # one try, no wait: the kernel dropped the dead holder's lock
    record.lock.release()
    assert not list(runs.iterdir())

    RecordLock(runs / "crashed.lock").path.touch()  # a file left by a killed holder...
    assert reap(HarnessConfig(rootdir=tmp_path, state_dir=tmp_path / "state")) == []
    assert not list(runs.iterdir())  # ...goes with the next reaping


def _hammer(path: str, journal: str, rounds: int) -> None:
    """Take the lock *rounds* times; inside, check nobody else is inside, and count."""
    lock = RecordLock(Path(path))
    inside = Path(journal + ".inside")
    for _ in range(rounds):
        lock.acquire(timeout=60)
        try:
            fd = os.open(inside, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # fails if shared
            os.close(fd)
            count = Path(journal)
            count.write_text(str(int(count.read_text() or 0) + 1))
            inside.unlink()
        finally:
            lock.release()


def test_the_lock_stays_exclusive_while_its_file_comes_and_goes(tmp_path: Path) -> None:
    path, journal = tmp_path / "runs" / "k.lock", tmp_path / "count"
    path.parent.mkdir()
    journal.write_text("0")
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_hammer, args=(str(path), str(journal), 60)) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=RUN_TIMEOUT)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0], "two processes held the lock at once"
    assert journal.read_text() == "240"
    assert not path.exists()


def test_a_waiter_never_takes_a_lock_file_its_holder_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race that makes removing lock files unsafe, made to happen: the holder removes the
    file and releases it between the waiter's open and its flock."""
    path = tmp_path / "k.lock"
    holder, waiter, third = RecordLock(path), RecordLock(path), RecordLock(path)
    holder.acquire(timeout=0)
    real_open = os.open

    def open_then_the_holder_lets_go(*args: Any, **kwargs: Any) -> int:
        descriptor = real_open(*args, **kwargs)
        if holder.is_locked:
            holder.release()  # unlinks the file the waiter has just opened, then unlocks it
        return descriptor

    monkeypatch.setattr(os, "open", open_then_the_holder_lets_go)
    waiter.acquire(timeout=0)
    monkeypatch.undo()
    with pytest.raises(TimeoutError):  # the waiter holds the file that is there, not a ghost
        third.acquire(timeout=0)
    waiter.release()
    assert not path.exists()


@pytest.mark.anyio
async def test_finished_runs_leave_no_files_even_when_they_run_concurrently(
    tmp_path: Path,
) -> None:
    """Three runs of their own and two processes sharing a fourth, started and stopped at
    once, on one state dir: afterwards ``runs/`` is empty (no record, no lock)."""
    config = HarnessConfig(rootdir=tmp_path, backend="local", state_dir=tmp_path / "state")
    infras = [Infrastructure(config, key=f"own-{n}") for n in range(3)]
    infras += [Infrastructure(config, key="shared", worker=f"gw{n}") for n in range(2)]
    processes: list[ProcessRecord] = []
    started, all_started = [], anyio.Event()

    async def one_run(infra: Infrastructure) -> None:
        await infra.start(["redis"])
        try:
            assert await infra.clients["redis"].ping()
            processes.extend(infra.servers["redis"].processes)
            started.append(infra)
            if len(started) == len(infras):
                all_started.set()
            with anyio.fail_after(60):  # all up at once: the two sharing ones do share
                await all_started.wait()
        finally:
            await infra.close()

    async with anyio.create_task_group() as group:
        for infra in infras:
            group.start_soon(one_run, infra)
    assert len({p.pid for p in processes}) == 4  # four runs, four servers
    assert_nothing_left(tmp_path / "state", processes)
