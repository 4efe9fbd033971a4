"""The Docker backend against a real daemon: the Docker lane's own tests (scripts/test-docker.sh).

API negotiation, every connection mode (forced one at a time: on this machine the gateway and the
containers' IPs are reachable), a missing image, a failed start, and what a killed or interrupted
run leaves behind. The images are the lane's (``harness_images``, the stand-ins).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import docker
import pytest

from harness._config import HarnessConfig
from harness._doctor import diagnose, render
from harness._exceptions import ServerStartError
from harness._stash import session_of
from harness.backends._docker import (
    DockerBackend,
    _probe,
    configure_container,
    docker_client,
    docker_info,
)
from harness.backends._docker_network import plan_network
from harness.resources import REGISTRY, Server
from tests.test_cli import Up, harness

pytestmark = [pytest.mark.backend("docker"), pytest.mark.anyio]

BACKEND = DockerBackend()
FORCING = ("TESTCONTAINERS_CONNECTION_MODE", "TC_HOST", "TESTCONTAINERS_HOST_OVERRIDE")


@pytest.fixture
def config(request: pytest.FixtureRequest, tmp_path: Path) -> HarnessConfig:
    """A Docker config of its own, with the lane's images."""
    lane = session_of(request.config).config
    return HarnessConfig(
        rootdir=tmp_path, backend="docker", images=lane.images, state_dir=tmp_path / "state"
    )


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set connection variables for one test: the cached daemon description is dropped before and
    after, so neither this test nor the next sees another test's forcing."""
    for name in FORCING:
        monkeypatch.delenv(name, raising=False)
    _probe.cache_clear()
    yield monkeypatch
    _probe.cache_clear()


class Recorded(list[str | None]):
    """The container name or id of each record the provider made, as it was then."""

    def __call__(self, server: Server) -> None:
        self.append(server.container_id)


def _containers(name: str) -> list[Any]:
    return list(docker_client().containers.list(all=True, filters={"name": name}))


# -- the daemon ------------------------------------------------------------------------------------
def test_the_api_version_is_negotiated_with_the_daemon(config: HarnessConfig) -> None:
    info = docker_info()
    raw = docker_client().api.version(api_version=False)
    assert (info.api_version, info.min_api_version) == (raw["ApiVersion"], raw["MinAPIVersion"])
    container = configure_container(
        REGISTRY["redis"], config, "pw", plan=info.network, api_version=info.api_version
    )
    assert container.get_docker_client().client.api.api_version == info.api_version


def test_a_version_above_the_daemons_range_is_refused_which_is_why_nothing_is_pinned() -> None:
    highest = docker_info().api_version
    major, minor = highest.split(".")
    too_new = docker.from_env(version=f"{major}.{int(minor) + 1}")
    with pytest.raises(docker.errors.APIError, match=r"too new|not supported"):
        too_new.containers.list()


def test_doctor_shows_the_daemon_its_api_range_and_the_connection_mode(
    config: HarnessConfig, env: pytest.MonkeyPatch
) -> None:
    (line,) = [line for line in render(diagnose(config, ["redis"])) if line.startswith("Docker ")]
    info = docker_info()
    assert f"Docker {info.version}, API {info.api_version} (daemon accepts " in line
    assert f"({info.network.mode} mode, detected: " in line
    env.setenv("TESTCONTAINERS_CONNECTION_MODE", "bridge_ip")
    _probe.cache_clear()
    (line,) = [line for line in render(diagnose(config, ["redis"])) if line.startswith("Docker ")]
    assert "(bridge_ip mode, forced: TESTCONTAINERS_CONNECTION_MODE is set)" in line


def test_this_machine_is_detected_as_sharing_the_daemons_network(env: pytest.MonkeyPatch) -> None:
    # /.dockerenv exists here, so testcontainers alone would connect to the bridge gateway; the
    # daemon runs beside us, so the harness publishes and connects on 127.0.0.1.
    plan = plan_network(docker_client())
    assert (plan.mode, plan.host, plan.publish, plan.forced) == (
        "docker_host",
        "127.0.0.1",
        "127.0.0.1",
        False,
    )


# -- connection modes ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["docker_host", "gateway_ip", "bridge_ip"])
async def test_each_connection_mode_reaches_the_address_it_publishes_on(
    mode: str, config: HarnessConfig, env: pytest.MonkeyPatch
) -> None:
    env.setenv("TESTCONTAINERS_CONNECTION_MODE", mode)
    records = Recorded()
    server = await BACKEND.start(REGISTRY["redis"], config, records)
    try:
        plan = docker_info().network
        assert (plan.mode, plan.forced) == (mode, True)
        attrs = docker_client().api.inspect_container(server.container_id)
        network = attrs["NetworkSettings"]["Networks"]["bridge"]
        published = {
            binding["HostIp"]
            for bindings in (attrs["HostConfig"]["PortBindings"] or {}).values()
            for binding in bindings
        }
        url = urlsplit(server.url)
        if mode == "bridge_ip":
            assert (url.hostname, url.port, published) == (network["IPAddress"], 6379, set())
        else:
            expected = "127.0.0.1" if mode == "docker_host" else network["Gateway"]
            assert (url.hostname, published) == (expected, {expected})
        assert server.version.startswith("Redis ")
    finally:
        BACKEND.stop(server)
    name = records[0] or ""
    assert name.startswith("harness-redis-")  # named and recorded before it was created
    assert records[-1] == server.container_id != name  # then recorded by id
    assert not BACKEND.alive(server)
    assert not _containers(name)


# -- failures --------------------------------------------------------------------------------------
async def test_a_missing_image_is_one_error_naming_it_why_and_the_ways_out(
    config: HarnessConfig,
) -> None:
    image = "harness-test/missing:never"
    config = HarnessConfig(rootdir=config.rootdir, images={"redis": image})
    records = Recorded()
    with pytest.raises(ServerStartError) as info:
        await BACKEND.start(REGISTRY["redis"], config, records)
    message = str(info.value)
    assert (
        f"Redis: the Docker image {image} is not on this machine and pulling it failed (" in message
    )
    assert "500 Server Error" not in message  # the daemon's reason, not docker-py's wrapper
    assert f"`docker pull {image}`" in message
    assert "`docker load -i FILE`" in message
    assert "--harness-images redis=IMAGE, or HARNESS_REDIS_IMAGE=IMAGE" in message
    assert "--harness-backend=local" in message
    assert records == [records[0]]  # never created: only its name was recorded
    assert not _containers(records[0] or "")


def test_a_run_without_its_images_fails_once_per_resource(
    inner_pytest: Any, pytester: pytest.Pytester
) -> None:
    pytester.makepyfile(
        test_all="def test_all(postgres_url, rabbitmq_url, mongo_url, redis_url):\n    pass\n"
    )
    names = ["postgres", "rabbitmq", "mongo", "redis"]
    images = ",".join(f"{name}=harness-test/missing-{name}:never" for name in names)
    env = {"HARNESS_IMAGES": images, "HARNESS_STATE_DIR": str(pytester.path / "state")}
    result = inner_pytest("-q", "--harness-backend=docker", join=False, env=env)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == 3, output
    assert "4 resources failed to start" in output
    for name in names:
        assert output.count(f"harness-test/missing-{name}:never is not on this machine") == 1
    assert "500 Server Error" not in output


async def test_a_container_whose_start_fails_is_removed(
    config: HarnessConfig, env: pytest.MonkeyPatch
) -> None:
    # Ports published on an address this machine does not have: the daemon creates the container,
    # then refuses to start it (testcontainers would leave it behind, "Created").
    env.setenv("TC_HOST", "198.51.100.7")
    records = Recorded()
    with pytest.raises(ServerStartError, match="did not start") as info:
        await BACKEND.start(REGISTRY["redis"], config, records)
    name = records[0] or ""
    assert name.startswith("harness-redis-") and name in str(info.value)
    assert "cannot assign requested address" in str(info.value)  # the daemon's reason
    assert records[-1] != name  # recorded by id before the start was tried
    assert not _containers(name)


# -- killed and interrupted runs -----------------------------------------------------------------------
HANGING_TEST = """
import json, os, time, pytest
pytestmark = pytest.mark.anyio

async def test_hang(redis_url, postgres_url, harness_infra):
    ids = [s.container_id for s in harness_infra.servers.values()]
    path = os.environ["FLAG_FILE"]
    with open(path + ".tmp", "w") as f:
        json.dump(ids, f)
    os.rename(path + ".tmp", path)
    time.sleep(600)
"""


def _own_run_env(tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "HARNESS_STATE_DIR": str(tmp_path / "state"),
        "FLAG_FILE": str(tmp_path / "flag.json"),
        "HARNESS_BACKEND": "docker",
    }
    env.pop("HARNESS_RUN_KEY", None)
    return env


def _hanging_run(pytester: pytest.Pytester, env: dict[str, str]) -> tuple[Any, list[str]]:
    """A pytest stuck inside a test once its containers run; returns it and their ids."""
    pytester.makepyfile(test_hang=HANGING_TEST)
    victim = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "test_hang.py"],
        cwd=pytester.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    flag, deadline = Path(env["FLAG_FILE"]), time.monotonic() + 90
    while not flag.exists():
        if victim.poll() is not None or time.monotonic() > deadline:
            victim.kill()
            pytest.fail(
                f"the inner pytest did not start its containers:\n{victim.communicate()[0]}"
            )
        time.sleep(0.1)
    return victim, json.loads(flag.read_text())


def _running(ids: list[str]) -> list[str]:
    return [i for i in ids if BACKEND.alive(Server("x", "docker", "", container_id=i))]


def test_a_sigkilled_run_is_reaped_by_the_next(pytester: pytest.Pytester, tmp_path: Path) -> None:
    env = _own_run_env(tmp_path)
    victim, ids = _hanging_run(pytester, env)
    victim.kill()
    victim.communicate()
    assert len(_running(ids)) == 2, "precondition: the killed run's containers are orphaned"

    pytester.makepyfile(test_next="def test_next():\n    pass\n")
    second = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_next.py"],
        cwd=pytester.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert "harness: reaped redis (docker)" in second.stdout
    assert "harness: reaped postgres (docker)" in second.stdout
    assert not [i for i in ids if docker_client().containers.list(all=True, filters={"id": i})]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_leaves_no_container(
    pytester: pytest.Pytester, tmp_path: Path, sig: int
) -> None:
    env = _own_run_env(tmp_path)
    victim, ids = _hanging_run(pytester, env)
    victim.send_signal(sig)
    try:
        output, _ = victim.communicate(timeout=60)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    assert victim.returncode != 0
    assert not [i for i in ids if docker_client().containers.list(all=True, filters={"id": i})], (
        output
    )
    assert not list((tmp_path / "state" / "runs").glob("*.json"))


# -- harness up ------------------------------------------------------------------------------------
def _existing(ids: list[str]) -> list[str]:
    return [i for i in ids if docker_client().containers.list(all=True, filters={"id": i})]


def _up_ready(tmp_path: Path) -> tuple[Up, list[str]]:
    up = Up(tmp_path, "--resources", "redis,postgres")
    up.wait_ready()
    assert re.search(r"harness: redis +docker +Redis ", up.stderr), up.stderr
    assert re.search(r"harness: postgres +docker +PostgreSQL ", up.stderr), up.stderr
    ids = [s.container_id or "" for s in up.record().load().servers.values()]
    assert len(_running(ids)) == 2
    return up, ids


def test_harness_up_stops_its_containers_on_sigterm(tmp_path: Path) -> None:
    up, ids = _up_ready(tmp_path)
    try:
        assert up.stop(signal.SIGTERM) == 0, up.stderr
    finally:
        up.kill()
    assert not _existing(ids)


def test_harness_reap_removes_the_containers_of_a_killed_up(tmp_path: Path) -> None:
    up, ids = _up_ready(tmp_path)
    up.kill()
    assert len(_running(ids)) == 2, "precondition: orphaned containers"
    reaped = harness("reap", tmp_path=tmp_path)
    assert "harness reap: stopped redis (docker) of run" in reaped.stdout
    assert "harness reap: stopped postgres (docker) of run" in reaped.stdout
    assert not _existing(ids)
