"""How `auto` picks a backend per resource, and how the Docker backend configures containers.

The container *configuration* is checked here without a daemon (nothing is sent to one);
starting containers against a real daemon is tests/test_docker.py, on the Docker lane.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness._config import HarnessConfig
from harness._exceptions import BackendUnavailableError
from harness.backends import choose, docker_status
from harness.backends._docker import LABEL, configure_container
from harness.backends._docker_network import NetworkPlan
from harness.resources import REGISTRY
from harness.resources.redis import RedisResource


class _NoBinaries(RedisResource):
    """Redis as seen on a machine where redis-server is not installed."""

    def find_binaries(self) -> dict[str, str] | None:
        return None


def _config(backend: str = "auto", **kw: object) -> HarnessConfig:
    return HarnessConfig(rootdir=Path("/project"), backend=backend, **kw)  # type: ignore[arg-type]


LOOPBACK = NetworkPlan("docker_host", False, "127.0.0.1", "127.0.0.1", None, "a test")


def configure(name: str, config: HarnessConfig, secret: str, plan: NetworkPlan = LOOPBACK):
    """A container configured as the Docker backend does (no daemon needed: nothing is sent)."""
    return configure_container(REGISTRY[name], config, secret, plan=plan, api_version="1.41")


@pytest.fixture(autouse=True)
def _no_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    for resource in REGISTRY.values():
        monkeypatch.delenv(resource.url_env, raising=False)


NO_DOCKER = [
    pytest.mark.backend("local"),
    pytest.mark.skipif(
        docker_status()[0], reason="checks the no-Docker path (a daemon answers here)"
    ),
]
"""The no-Docker path: the local lane's tests (deselected on the Docker lane)."""


def _no_docker(test):
    for mark in NO_DOCKER:
        test = mark(test)
    return test


def test_docker_status_says_why_either_way() -> None:
    available, detail = docker_status()
    assert detail.startswith("Docker ") if available else "Docker" in detail


def test_auto_prefers_an_external_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_REDIS_URL", "redis://ci-redis:6379/0")
    assert choose(REGISTRY["redis"], _config()).backend == "external"


@_no_docker
def test_auto_without_docker_uses_local_binaries() -> None:
    choice = choose(REGISTRY["redis"], _config())
    assert choice.backend == "local"
    assert "redis-server" in choice.reason


@_no_docker
def test_auto_with_nothing_says_every_way_to_fix_it() -> None:
    with pytest.raises(BackendUnavailableError) as info:
        choose(_NoBinaries(), _config())
    message = str(info.value)
    assert "HARNESS_REDIS_URL is not set" in message
    assert "apt-get install redis-server" in message
    assert "start Docker" in message


@_no_docker
def test_forced_docker_without_a_daemon_is_an_error_naming_the_alternatives() -> None:
    with pytest.raises(
        BackendUnavailableError, match=r"docker backend was requested .* --harness-backend=local"
    ):
        choose(REGISTRY["postgres"], _config("docker"))


def test_forced_external_needs_the_url() -> None:
    with pytest.raises(BackendUnavailableError, match="needs HARNESS_POSTGRES_URL"):
        choose(REGISTRY["postgres"], _config("external"))


def test_forced_local_ignores_an_external_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_REDIS_URL", "redis://elsewhere:6379/0")
    assert choose(REGISTRY["redis"], _config("local")).backend == "local"


def test_forced_local_without_binaries_names_the_install_command() -> None:
    with pytest.raises(BackendUnavailableError, match="apt-get install redis-server"):
        choose(_NoBinaries(), _config("local"))


def test_without_posix_process_groups_local_is_refused_with_the_other_ways(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Windows has no ``os.killpg``: the local backend could start servers it cannot stop."""
    monkeypatch.delattr("os.killpg")
    with pytest.raises(BackendUnavailableError) as info:
        choose(REGISTRY["redis"], _config("local"))
    message = str(info.value)
    assert "local backend does not run on this platform" in message
    assert "Start Docker (export DOCKER_HOST), or export HARNESS_REDIS_URL." in message
    monkeypatch.setenv("HARNESS_REDIS_URL", "redis://ci-redis:6379/0")  # the other ways still work
    assert choose(REGISTRY["redis"], _config()).backend == "external"


@pytest.mark.parametrize(
    ("name", "image", "port"),
    [
        ("postgres", "postgres:17.4-alpine", 5432),
        ("rabbitmq", "rabbitmq:3.13-alpine", 5672),
        ("mongo", "mongo:7", 27017),
        ("redis", "redis:5.0.8-alpine", 6379),
    ],
)
def test_docker_containers_use_the_guides_images_on_loopback(
    name: str, image: str, port: int
) -> None:
    container = configure(name, _config(), "s3cret")
    assert container.image == image
    assert {int(p) for p in container.ports} == {port}
    assert all(binding == ("127.0.0.1", None) for binding in container.ports.values())
    assert container._kwargs["labels"] == {LABEL: "project"}


def test_docker_images_can_be_overridden_by_config_and_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _config(images={"postgres": "postgres:16-alpine"})
    assert configure("postgres", config, "pw").image == "postgres:16-alpine"
    monkeypatch.setenv("HARNESS_REDIS_IMAGE", "redis:7-alpine")
    assert configure("redis", _config(), "pw").image == "redis:7-alpine"


def test_docker_containers_get_per_run_credentials_and_test_settings() -> None:
    postgres = configure("postgres", _config(), "run-secret-1")
    assert postgres.password == "run-secret-1"
    assert "fsync=off" in postgres._command
    rabbit = configure("rabbitmq", _config(), "run-secret-2")
    assert rabbit.password == "run-secret-2"
    redis = configure("redis", _config(), "run-secret-3")
    assert "--requirepass run-secret-3" in redis._command
    mongo = configure("mongo", _config(), "run-secret-4")
    assert mongo.password == "run-secret-4"
