"""Whole runs on external servers the harness does not own: the services' suites, several
concurrent runs (as CI shards share one server), and the reaping of a killed run's namespaces.

Each test compares a snapshot of everything on the servers before and after
(:mod:`tests.external_snapshot`).
"""

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
import pytest

from .external_servers import (
    REPO,
    ExternalServers,
    external_env,
    outcome,
    run_env,
    run_pytest,
    write_project,
)
from .external_snapshot import harness_names, snapshot, without_harness

# The "team's" servers are started from the local binaries: the local lane has them.
pytestmark = [pytest.mark.anyio, pytest.mark.inner, pytest.mark.backend("local")]


async def test_the_services_suites_pass_on_external_servers(
    external_servers: ExternalServers, tmp_path: Path
) -> None:
    before = await snapshot(external_servers)
    env = run_env(tmp_path / "state", external_servers.harness_env())

    result = await run_pytest(REPO, "services", "-q", env=env, timeout=240)

    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in outcome(result) and "skipped" not in outcome(result), result.stdout
    assert await snapshot(external_servers) == before


# -- concurrent runs ---------------------------------------------------------------------------
ISOLATION = """
import os

import aio_pika
import anyio
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.harness_leak_check("off")]
RUN = os.environ["RUN_NAME"]


@pytest.mark.parametrize("n", range(4))
async def test_sees_only_its_own_data(n, worker_id, postgres, redis, mongo, rabbitmq):
    me = f"{RUN}/{worker_id}"
    # Migrated from this run's template, the same tables in every run.
    await postgres.execute("INSERT INTO marten.users (email) VALUES ($1)", f"{me}#{n}")
    await redis.sadd("marks", me)
    await mongo.marks.insert_one({"who": me})
    queue = await rabbitmq.declare_queue("marks", durable=True)
    await rabbitmq.default_exchange.publish(aio_pika.Message(me.encode()), routing_key="marks")
    await anyio.sleep(0.3)  # overlap with the other runs' tests

    emails = await postgres.fetch("SELECT email FROM marten.users")
    assert {r[0].partition("#")[0] for r in emails} == {me}
    assert await redis.smembers("marks") == {me.encode()}
    assert set(await mongo.marks.distinct("who")) == {me}
    bodies = []
    while (message := await queue.get(fail=False)) is not None:
        bodies.append(message.body.decode())
        await message.ack()
    assert bodies == [me]
"""


async def test_four_concurrent_runs_of_two_workers_each_stay_apart_and_leave_nothing(
    external_servers: ExternalServers, tmp_path: Path
) -> None:
    before = await snapshot(external_servers)
    results: dict[str, subprocess.CompletedProcess[str]] = {}

    async def run(name: str) -> None:
        project = write_project(tmp_path / name, {"test_isolation.py": ISOLATION})
        env = external_env(external_servers, tmp_path / name, RUN_NAME=name)
        results[name] = await run_pytest(project, "-q", "-n", "2", env=env, timeout=240)

    async with anyio.create_task_group() as group:
        for name in ("shard1", "shard2", "shard3", "shard4"):
            group.start_soon(run, name)

    for name, result in results.items():
        assert result.returncode == 0, f"{name}:\n{result.stdout}{result.stderr}"
        assert outcome(result).startswith("4 passed"), f"{name}:\n{result.stdout}"
    assert await snapshot(external_servers) == before


# -- a killed run ------------------------------------------------------------------------------
HOLD = """
import json, os, pathlib, time
import aio_pika, anyio, pytest

pytestmark = [pytest.mark.anyio, pytest.mark.harness_leak_check("off")]


async def test_hold(postgres, redis, mongo, rabbitmq, postgres_url, redis_url, mongo_url, rabbitmq_url):
    await postgres.execute("CREATE TABLE mine (x int); INSERT INTO mine VALUES (1)")
    await redis.set("mine", "1")
    await mongo.mine.insert_one({"x": 1})
    await rabbitmq.declare_queue("mine", durable=True)
    urls = {"postgres": postgres_url, "redis": redis_url, "mongo": mongo_url, "rabbitmq": rabbitmq_url}
    pathlib.Path(os.environ["READY_FILE"]).write_text(json.dumps(urls))
    release = pathlib.Path(os.environ["RELEASE_FILE"])
    with anyio.fail_after(120):
        while not release.exists():
            await anyio.sleep(0.05)
    # Another run was reaped meanwhile: this one's namespaces are still there and still ours.
    assert await postgres.fetchval("SELECT x FROM mine") == 1
    assert await redis.get("mine") == b"1"
    assert await mongo.mine.count_documents({}) == 1
    await rabbitmq.declare_queue("mine", durable=True, passive=True)
"""


class HoldingRun:
    """An inner pytest that creates its namespaces, fills them and waits to be released or killed."""

    def __init__(self, servers: ExternalServers, project: Path, state: Path, name: str) -> None:
        self.ready, self.release = project / f"{name}.ready", project / f"{name}.release"
        env = run_env(
            state,
            {
                **servers.harness_env(),
                "READY_FILE": str(self.ready),
                "RELEASE_FILE": str(self.release),
            },
        )
        argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
        argv += ["--harness-backend=external", "test_hold.py"]
        self.proc = subprocess.Popen(
            argv, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    async def wait_ready(self) -> dict[str, str]:
        """The namespace URLs, once its test holds them."""
        with anyio.fail_after(90):
            while not self.ready.exists():
                assert self.proc.poll() is None, self.proc.communicate()[0]
                await anyio.sleep(0.05)
        urls: dict[str, str] = json.loads(self.ready.read_text())
        return urls

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.communicate(timeout=10)  # reaps it and closes its output pipe

    async def finish(self) -> str:
        self.release.touch()
        output, _ = await anyio.to_thread.run_sync(lambda: self.proc.communicate(timeout=60))
        assert self.proc.returncode == 0, output
        return output


def _names(urls: dict[str, str]) -> dict[str, set[str]]:
    """The namespace per resource, as :func:`harness_names` lists them."""
    from urllib.parse import unquote, urlsplit

    return {r: {unquote(urlsplit(u).path.lstrip("/"))} for r, u in urls.items()}


def _templates(state: dict[str, Any]) -> int:
    return sum(d[0].startswith("harness_tpl_") for d in state["postgres"]["databases"])


def _present(state: dict[str, Any], urls: dict[str, str]) -> dict[str, bool]:
    found = harness_names(state)
    return {r: names <= found[r] for r, names in _names(urls).items()}


async def test_a_killed_runs_namespaces_are_reaped_and_only_its_own(
    external_servers: ExternalServers, tmp_path: Path
) -> None:
    """By ``python -m harness reap``, then by the next run's reaper; a live run's stay."""
    project = write_project(tmp_path / "project", {"test_hold.py": HOLD})
    state_dir = tmp_path / "state"  # one state dir: the reaper sees every run's record
    before = await snapshot(external_servers)
    live = HoldingRun(external_servers, project, state_dir, "live")
    killed = HoldingRun(external_servers, project, state_dir, "killed")
    try:
        live_urls, killed_urls = await live.wait_ready(), await killed.wait_ready()
        killed.kill()
        mid = await snapshot(external_servers)
        assert all(_present(mid, killed_urls).values())
        assert _templates(mid) == 2

        # `harness reap` from a shell without the servers' variables: the run records suffice.
        shell = {k: v for k, v in run_env(state_dir).items() if not k.endswith("_URL")}
        started = time.monotonic()
        reaped = await anyio.to_thread.run_sync(
            lambda: subprocess.run(
                [sys.executable, "-m", "harness", "reap"],
                cwd=project,
                env=shell,
                capture_output=True,
                text=True,
                timeout=60,
            )
        )
        reap_seconds = time.monotonic() - started
        assert reaped.returncode == 0, reaped.stdout + reaped.stderr
        assert reaped.stdout.count("(external) of run") == 4, reaped.stdout
        mid = await snapshot(external_servers)
        assert _present(mid, killed_urls) == dict.fromkeys(killed_urls, False)
        assert _present(mid, live_urls) == dict.fromkeys(live_urls, True)
        assert _templates(mid) == 1, "the killed run's template stays, or the live run's went"
        assert without_harness(mid) == without_harness(before)

        killed = HoldingRun(external_servers, project, state_dir, "killed-again")
        killed_urls = await killed.wait_ready()
        killed.kill()
        next_run = await run_pytest(
            project, "-q", "-k", "nothing", env=run_env(state_dir, external_servers.harness_env())
        )
        assert next_run.stdout.count("harness: reaped") == 4, next_run.stdout
        mid = await snapshot(external_servers)
        assert _present(mid, killed_urls) == dict.fromkeys(killed_urls, False)
        assert _present(mid, live_urls) == dict.fromkeys(live_urls, True)
        assert _templates(mid) == 1

        await live.finish()
    finally:
        for run in (live, killed):
            if run.proc.poll() is None:
                run.kill()
    assert await snapshot(external_servers) == before
    print(f"harness reap took {reap_seconds:.2f} s")
