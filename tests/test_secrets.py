"""No password in any output: every error path of the harness, driven with passwords the test
knows, on local and external servers, through pytest, the ``harness`` command and the API.

Known passwords: this session's local servers (read from their URLs, which only the run record
and the process hold), a local run's generated secret pinned by its conftest (a run that fails
to start removes its record), and the external servers' own (``tests.external_servers``). Every
inner pytest runs with ``-l --tb=long`` so function arguments and locals are shown too.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from harness._config import HarnessConfig
from harness._env import resolve_env_map
from harness._exceptions import MigrationError
from harness._infra import Infrastructure, run_key
from harness._migrations import run_alembic
from harness._state import RunRecord, RunState
from harness.resources import Server, with_path

from .external_servers import ExternalServers, run_env
from .test_migrations import make_chain

pytestmark = [pytest.mark.anyio, pytest.mark.inner]

ROOT = Path(__file__).resolve().parents[1]
VERBOSE = ("-p", "no:randomly", "-l", "--tb=long", "-rA", "-W", "default::harness.LeakWarning")


# -- assertions ----------------------------------------------------------------------------------
def leaks(text: str, passwords: Iterable[str]) -> list[str]:
    """Where *text* shows a password: a line of context each, the password itself hidden."""
    found = []
    for password in passwords:
        for match in re.finditer(re.escape(password), text):
            line = text[max(0, match.start() - 120) : match.end() + 60]
            found.append(" ".join(line.replace(password, "<PASSWORD>").split()))
    return found


def assert_clean(text: str, passwords: Iterable[str], what: str) -> None:
    shown = leaks(text, passwords)
    assert not shown, f"{what} shows a password:\n" + "\n".join(shown)


def chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [error]
    while todo:
        current = todo.pop()
        if id(current) not in seen:
            seen.add(id(current))
            yield current
            todo += [e for e in (current.__cause__, current.__context__) if e is not None]
            todo += list(getattr(current, "exceptions", ()))


def assert_chain_clean(error: BaseException, passwords: Iterable[str]) -> None:
    """The exception, its ``__cause__``/``__context__``/group members and their notes."""
    passwords = list(passwords)
    for current in chain(error):
        parts = [str(current), repr(current), repr(current.args)]
        parts += [str(note) for note in getattr(current, "__notes__", ())]
        parts += [repr(value) for value in vars(current).values()]
        assert_clean("\n".join(parts), passwords, f"{type(current).__name__} in the chain")


def password_of(url: str) -> str:
    password = urlsplit(url).password
    assert password, f"no password in {urlsplit(url).hostname}'s URL"
    return password


def output(result: pytest.RunResult | subprocess.CompletedProcess[str]) -> str:
    if isinstance(result, pytest.RunResult):
        return result.stdout.str() + "\n" + result.stderr.str()
    return result.stdout + "\n" + result.stderr


# -- local servers: this session's (joined inner runs) -------------------------------------------
@pytest.fixture
def local_passwords(
    harness_infra: Infrastructure, postgres_url: str, rabbitmq_url: str, redis_url: str
) -> list[str]:
    """The passwords of this session's PostgreSQL, RabbitMQ and Redis (MongoDB's local server,
    FerretDB on SQLite, has no accounts)."""
    return [password_of(harness_infra.servers[n].url) for n in ("postgres", "rabbitmq", "redis")]


MAPPED = """
[pytest]
harness_env_map =
    POSTGRES-URL=postgres
    RABBITMQ-URL=rabbitmq
    REDIS-URL=redis
"""

THROUGH_TESTS = """
import logging, os
import pytest
from fastapi import FastAPI
from harness import app_client, redis
from harness.resources import REGISTRY

pytestmark = pytest.mark.anyio


async def test_leaves_urls_behind(postgres_url, redis_url, rabbitmq_url, configure_test_env):
    await redis().set(os.environ["REDIS-URL"], os.environ["POSTGRES-URL"])


@pytest.mark.harness_leak_check("warn")
async def test_leaves_urls_behind_with_a_warning(redis_url, configure_test_env):
    await redis().set(os.environ["POSTGRES-URL"] + "#warn", "x")


async def test_lifespan_quotes_the_url(configure_test_env):
    async def lifespan(app):
        raise RuntimeError("cannot reach " + os.environ["POSTGRES-URL"])
        yield

    async with app_client(FastAPI(lifespan=lifespan)):
        pass


async def test_a_driver_error_with_the_url_as_an_argument(configure_test_env):
    url = os.environ["RABBITMQ-URL"]
    logging.getLogger("harness").warning("about to fail on %s", os.environ["REDIS-URL"])
    print("the test prints", os.environ["POSTGRES-URL"])
    await REGISTRY["postgres"].admin_execute(os.environ["POSTGRES-URL"], "SELECT * FROM nope")


def test_an_assertion_quoting_the_url(configure_test_env):
    assert os.environ["RABBITMQ-URL"] == "", "unexpected " + os.environ["REDIS-URL"]
"""


def test_failures_leak_reports_and_captured_output_of_a_joined_run(
    inner_pytest: Any, pytester: pytest.Pytester, local_passwords: list[str]
) -> None:
    pytester.makefile(".ini", pytest=MAPPED)
    pytester.makepyfile(test_through=THROUGH_TESTS)
    result = inner_pytest(*VERBOSE)
    text = output(result)
    result.assert_outcomes(passed=2, failed=3, errors=1, warnings=1)
    # the paths were taken: the URLs are there, each without its password
    assert re.search(r"left data behind:\n.*redis database \d+: 1 key left", text), text
    assert "postgresql://harness:***@127.0.0.1:" in text
    assert "amqp://harness:***@127.0.0.1:" in text
    assert "redis://:***@127.0.0.1:" in text
    assert "failed during its lifespan startup: RuntimeError: cannot reach postgresql://" in text
    assert 'relation "nope" does not exist' in text
    assert "about to fail on redis://:***@" in text  # the captured log
    assert_clean(text, local_passwords, "pytest's output")


def test_an_env_map_part_the_url_lacks_shows_the_url_without_its_password(
    inner_pytest: Any, pytester: pytest.Pytester, local_passwords: list[str]
) -> None:
    pytester.makefile(".ini", pytest="[pytest]\nharness_env_map = REDIS-USER=redis.user\n")
    pytester.makepyfile(test_x="def test_x(configure_test_env):\n    pass\n")
    result = inner_pytest(*VERBOSE)
    text = output(result)
    assert re.search(
        r"ValueError: harness_env_map: REDIS-USER=redis.user: this session's redis URL "
        r"\(redis://:\*\*\*@127\.0\.0\.1:\d+/\d+\) has no user\. Map REDIS-USER to the whole "
        r"URL \(REDIS-USER=redis\) or to a part it has\.",
        text,
    ), text
    assert_clean(text, local_passwords, "pytest's output")


def test_a_failed_migration_that_quotes_the_url(
    inner_pytest: Any, pytester: pytest.Pytester, local_passwords: list[str]
) -> None:
    make_chain(
        pytester.path,
        ("quote1", None, "SELECT 1", "SELECT 1"),
    )
    revision = pytester.path / "migrations" / "versions" / "quote1.py"
    revision.write_text(
        revision.read_text().replace(
            "def upgrade():\n",
            "def upgrade():\n    import os\n"
            "    raise RuntimeError('no luck with ' + os.environ['POSTGRES-SUPABASE-URL'])\n",
        )
    )
    pytester.makepyfile(test_x="def test_x(postgres_url):\n    pass\n")
    result = inner_pytest(*VERBOSE)
    text = output(result)
    assert result.ret == 3, text
    assert "failed with RuntimeError: no luck with postgresql://harness:***@127.0.0.1:" in text
    assert "alembic's output:" in text
    assert_clean(text, local_passwords, "pytest's output")


async def test_the_api_raises_chains_without_passwords(
    harness_infra: Infrastructure, local_passwords: list[str], tmp_path: Path
) -> None:
    urls = harness_infra.urls
    with pytest.raises(ValueError) as part:
        resolve_env_map({"R": "redis.user"}, urls)
    assert_chain_clean(part.value, local_passwords)

    ini = make_chain(tmp_path, ("quote2", None, "SELECT 1", "SELECT 1"))
    revision = ini.parent / "versions" / "quote2.py"
    revision.write_text(
        revision.read_text().replace(
            "def upgrade():\n",
            "def upgrade():\n    import os\n"
            "    raise RuntimeError(os.environ['POSTGRES-SUPABASE-URL'])\n",
        )
    )
    maintenance = with_path(harness_infra.servers["postgres"].url, "postgres")  # no chain yet
    with pytest.raises(MigrationError) as migration:
        run_alembic(
            ini,
            "template",
            url=maintenance,
            env={"POSTGRES-SUPABASE-URL": maintenance},
            cwd=tmp_path,
        )
    assert "postgresql://harness:***@" in str(migration.value)
    assert "alembic's output" in migration.value.__notes__[0]
    assert_chain_clean(migration.value, local_passwords)


# -- local servers of a run's own, its secret pinned by its conftest -----------------------------
PINNED_CONFTEST = """
import harness.backends._local as local


class _Pinned:
    @staticmethod
    def token_urlsafe(nbytes=None):
        return {secret!r}


local.secrets = _Pinned  # what the servers of this run get as their password
"""

KILLS_ITS_SERVER = """
import os, signal, time
import pytest


def test_kills_the_server(postgres_url, harness_infra):
    record = harness_infra.servers["postgres"].processes[0]
    os.kill(record.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while record.alive() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_after_it(postgres_url):
    pass
"""


@pytest.fixture
def pinned(pytester: pytest.Pytester) -> str:
    secret = "pinned-" + secrets.token_urlsafe(18)
    pytester.makeconftest(PINNED_CONFTEST.format(secret=secret))
    return secret


def test_a_local_start_that_times_out(
    inner_pytest: Any, pytester: pytest.Pytester, pinned: str
) -> None:
    pytester.makefile(".ini", pytest="[pytest]\nharness_startup_timeout = 0.001\n")
    pytester.makepyfile(test_x="def test_x(postgres_url, redis_url, rabbitmq_url):\n    pass\n")
    state = pytester.path / "state"
    result = inner_pytest(*VERBOSE, join=False, env={"HARNESS_STATE_DIR": str(state)})
    text = output(result)
    assert result.ret == 3, text
    # at least RabbitMQ and Redis: PostgreSQL may answer the one probe it gets (0.1 s at least)
    assert re.search(r"\b[23] resources failed to start", text), text
    assert "did not answer within 0.001 s" in text
    assert_clean(text, [pinned], "pytest's output")


def test_a_local_server_that_dies_during_the_run(
    inner_pytest: Any, pytester: pytest.Pytester, pinned: str
) -> None:
    pytester.makepyfile(test_dies=KILLS_ITS_SERVER)
    state = pytester.path / "state"
    result = inner_pytest(*VERBOSE, join=False, env={"HARNESS_STATE_DIR": str(state)})
    text = output(result)
    result.assert_outcomes(passed=1, errors=1)  # the next test; no leak count on a dead server
    assert "ServerDiedError: PostgreSQL (local, 127.0.0.1:" in text
    assert_clean(text, [pinned], "pytest's output")


# -- external servers: the team's own passwords -------------------------------------------------
def _external(servers: ExternalServers, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**servers.harness_env(), "HARNESS_BACKEND": "external", **extra}
    return run_env(tmp_path / "state", env)


def _wrong_accounts(servers: ExternalServers) -> dict[str, str]:
    """The right password everywhere, with a user (or a port) that cannot get in."""
    secret, ports = servers.secret, servers.ports
    return {
        "HARNESS_POSTGRES_URL": f"postgresql://nobody:{secret}@127.0.0.1:{ports['postgres']}/x",
        "HARNESS_RABBITMQ_URL": f"amqp://nobody:{secret}@127.0.0.1:{ports['rabbitmq']}/",
        "HARNESS_REDIS_URL": f"redis://nobody:{secret}@127.0.0.1:{ports['redis']}",
        "HARNESS_MONGO_URL": f"mongodb://ci:{secret}@127.0.0.1:{ports['mongo']}/",
    }


EXTERNAL_TESTS = (
    THROUGH_TESTS
    + """

async def test_uses_mongo(mongo_url, mongo):
    await mongo.left.insert_one({"url": os.environ["POSTGRES-URL"]})
"""
)


def test_external_runs_that_fail_in_every_way(
    inner_pytest: Any, pytester: pytest.Pytester, external_servers: ExternalServers
) -> None:
    passwords = [external_servers.secret]
    pytester.makefile(".ini", pytest=MAPPED + "harness_backend = external\n")
    pytester.makepyfile(test_through=EXTERNAL_TESTS)
    env = _external(external_servers, pytester.path)

    through = inner_pytest(*VERBOSE, join=False, env=env)
    text = output(through)
    through.assert_outcomes(passed=3, failed=3, errors=2, warnings=1)
    assert "postgresql://ci:***@127.0.0.1:" in text
    assert "left data behind" in text
    assert_clean(text, passwords, "pytest's output (failures on external servers)")

    wrong = inner_pytest(
        *VERBOSE,
        "--harness-startup-timeout=1",
        join=False,
        env={**env, **_wrong_accounts(external_servers)},
    )
    text = output(wrong)
    assert wrong.ret == 3, text
    assert "4 resources failed to start" in text
    assert "PostgreSQL at HARNESS_POSTGRES_URL did not answer within 1 s" in text
    assert_clean(text, passwords, "pytest's output (a start that fails)")

    taken = inner_pytest(
        *VERBOSE, join=False, env={**env, **external_servers.harness_env(redis_index=0)}
    )
    text = output(taken)
    assert "HARNESS_REDIS_URL names Redis database 0, which holds 3 keys" in text, text
    assert taken.ret == 3, text
    assert_clean(text, passwords, "pytest's output (a namespace that cannot be made)")

    no_api = inner_pytest(
        *VERBOSE,
        join=False,
        env={
            **env,
            "HARNESS_RABBITMQ_MANAGEMENT_URL": f"http://ci:{external_servers.secret}@127.0.0.1:9",
        },
    )
    text = output(no_api)
    assert no_api.ret != 0, text
    assert "ConnectError" in text
    assert_clean(text, passwords, "pytest's output (no management API)")


async def test_external_api_errors_chain_without_passwords(
    external_servers: ExternalServers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {**external_servers.harness_env(redis_index=0)}.items():
        monkeypatch.setenv(key, value)
    config = HarnessConfig(rootdir=tmp_path, backend="external", state_dir=tmp_path / "state")
    infra = Infrastructure(config)
    with pytest.raises(BaseException) as raised:
        await infra.start(["redis"])
    assert_chain_clean(raised.value, [external_servers.secret])

    for key, value in _wrong_accounts(external_servers).items():
        monkeypatch.setenv(key, value)
    config = HarnessConfig(
        rootdir=tmp_path, backend="external", state_dir=tmp_path / "state", startup_timeout=1
    )
    with pytest.raises(BaseException) as wrong:
        await Infrastructure(config).start(["postgres", "rabbitmq", "redis", "mongo"])
    assert "4 resources failed to start" in str(wrong.value)
    assert_chain_clean(wrong.value, [external_servers.secret])


# -- the harness command ---------------------------------------------------------------------------
def harness(
    *args: str, env: dict[str, str], timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _up(args: list[str], env: dict[str, str], tmp_path: Path) -> tuple[int, str, str]:
    """``harness up`` until it is ready (or fails), then Ctrl-C: its status, stdout, stderr."""
    out, err = tmp_path / "up.out", tmp_path / "up.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "harness", "up", *args],
            cwd=ROOT,
            env=env,
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 90
        while proc.poll() is None and "harness up: ready" not in err.read_text():
            assert time.monotonic() < deadline, err.read_text()
            time.sleep(0.1)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        status = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    return status, out.read_text(), err.read_text()


def test_the_harness_command_never_shows_a_password_but_in_the_environment_asked_for(
    external_servers: ExternalServers, tmp_path: Path
) -> None:
    passwords = [external_servers.secret]
    env = _external(external_servers, tmp_path)

    doctor = harness("doctor", env=env)
    assert "HARNESS_POSTGRES_URL is set (postgresql://ci:***@127.0.0.1:" in doctor.stdout
    assert_clean(output(doctor), passwords, "harness doctor")

    dotenv = tmp_path / "dev.env"
    status, stdout, stderr = _up(
        ["--resources", "redis,postgres", "--env-file", str(dotenv)], env, tmp_path
    )
    assert status == 0, stderr
    assert_clean(stdout + stderr, passwords, "harness up --env-file")
    assert external_servers.secret in dotenv.read_text()  # where the user asked for it

    status, stdout, stderr = _up(["--resources", "redis"], env, tmp_path)
    assert status == 0, stderr
    assert_clean(stderr, passwords, "harness up's progress lines")
    assert external_servers.secret in stdout  # the environment the user asked for

    failing = {**env, **external_servers.harness_env(redis_index=0)}
    status, stdout, stderr = _up(["--resources", "redis"], failing, tmp_path)
    assert status == 1, stderr
    assert "HARNESS_REDIS_URL names Redis database 0" in stderr
    assert_clean(stdout + stderr, passwords, "harness up (a start that fails)")

    wrong = {**env, **_wrong_accounts(external_servers)}
    status, stdout, stderr = _up(
        ["--resources", "postgres,mongo", "--harness-startup-timeout", "1"], wrong, tmp_path
    )
    assert status == 1, stderr
    assert_clean(stdout + stderr, passwords, "harness up (wrong accounts)")


def test_down_reap_and_doctor_read_records_that_hold_passwords(
    external_servers: ExternalServers, tmp_path: Path
) -> None:
    """Run records hold the servers' admin URLs; the commands that read them show none."""
    secret = external_servers.secret
    env = _external(external_servers, tmp_path)
    state = tmp_path / "state"
    dead_lease = {"999999:dead": 1.0}
    orphan = RunState(
        servers={
            "redis": Server(
                "redis", "external", external_servers.harness_env()["HARNESS_REDIS_URL"]
            )
        },
        leases=dead_lease,
        namespaces=[{"resource": "redis", "name": "hgone00-main-redis", "lease": "999999:dead"}],
    )
    RunRecord(state, "orphan").save(orphan)
    reused = RunState(
        servers={
            "postgres": Server(
                "postgres", "local", f"postgresql://harness:{secret}@127.0.0.1:9/postgres"
            )
        },
        leases={f"{os.getpid()}:mine": _my_start_time()},
        reuse=True,
    )
    key = run_key(HarnessConfig(rootdir=ROOT, reuse=True))
    RunRecord(state, key).save(reused)

    doctor = harness("doctor", env=env)
    assert "run orphan: orphaned" in doctor.stdout
    assert_clean(output(doctor), [secret], "harness doctor (run records)")

    in_use = harness("down", env=env)
    assert in_use.returncode == 1
    assert "the reused servers are in use by PID" in in_use.stderr
    assert_clean(output(in_use), [secret], "harness down (in use)")

    down = harness("down", "--force", env=env)
    assert down.stdout == "harness down: stopped postgres (local, 127.0.0.1:9)\n", output(down)

    reap = harness("reap", env=env)
    assert reap.stdout == "harness reap: stopped redis (external) of run orphan\n", output(reap)
    assert_clean(output(reap), [secret], "harness reap")


def _my_start_time() -> float:
    import psutil

    return psutil.Process().create_time()


def test_the_run_record_is_where_the_password_lives(
    harness_infra: Infrastructure, local_passwords: list[str]
) -> None:
    """The one place a local password is kept: the run record (owner-only, see test_lifecycle);
    a server's repr, shown in tracebacks, does not have it."""
    recorded = str([server.to_json() for server in harness_infra.servers.values()])
    assert all(password in recorded for password in local_passwords)
    assert_clean(repr(harness_infra.servers), local_passwords, "repr() of the servers")
