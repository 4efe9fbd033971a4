"""The CI recipes cannot rot: the GitHub workflow, the GitLab example and the dev container parse,
and the variables, flags, images and URLs they give the harness are ones it really reads.

docs/ci.md includes these files as they are, so a renamed option or resource fails here, not in
somebody's pipeline.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from harness._config import BACKEND_CHOICES as BACKENDS
from harness._config import OPTIONS
from harness.resources import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
GITLAB = ROOT / "docs" / "ci" / "gitlab-ci.yml"
DEVCONTAINER = ROOT / "docs" / "ci" / "devcontainer.json"
EXAMPLES = (WORKFLOW, GITLAB, DEVCONTAINER)

VARIABLE = re.compile(r"\bHARNESS_[A-Z0-9_]+\b")
FLAG = re.compile(r"(--harness-[a-z-]+)(?:[= ]([\w.-]+))?")
# Variables of the tools around the harness that the examples set on purpose.
OTHER_TOOLS = {"TESTCONTAINERS_CONNECTION_MODE"}


def load(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def known_variables() -> set[str]:
    """Every ``HARNESS_*`` variable the harness or ``make setup`` reads: the options, each
    resource's URL and image, and the names the sources spell out."""
    names = {opt.env for opt in OPTIONS}
    names |= {resource.url_env for resource in REGISTRY.values()}
    names |= {f"HARNESS_{name.upper()}_IMAGE" for name in REGISTRY}
    for path in [*(ROOT / "harness").rglob("*.py"), ROOT / "scripts" / "setup.sh"]:
        names |= set(VARIABLE.findall(path.read_text(encoding="utf-8")))
    return names


def github_job(name: str) -> dict[str, Any]:
    jobs: dict[str, dict[str, Any]] = load(WORKFLOW)["jobs"]
    return jobs[name]


def gitlab_job(name: str) -> dict[str, Any]:
    job: dict[str, Any] = load(GITLAB)[name]
    return job


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_parses(path: Path) -> None:
    assert isinstance(load(path), dict), f"{path} is not a mapping"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_harness_variable_is_one_the_harness_reads(path: Path) -> None:
    used = set(VARIABLE.findall(path.read_text(encoding="utf-8")))
    assert used, f"{path.name} names no HARNESS_* variable"
    unknown = used - known_variables()
    assert not unknown, f"{path.name}: the harness reads no {sorted(unknown)}"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_harness_flag_and_backend_is_real(path: Path) -> None:
    flags = {opt.flag for opt in OPTIONS}
    text = path.read_text(encoding="utf-8")
    for flag, value in FLAG.findall(text):
        assert flag in flags, f"{path.name}: no option {flag}"
        if flag == "--harness-backend":
            assert value in BACKENDS, f"{path.name}: no backend {value!r}"
    for value in re.findall(r"\bHARNESS_BACKEND\W+(\w+)", text):
        assert value in BACKENDS, f"{path.name}: no backend {value!r}"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_other_variables_are_set_on_purpose(path: Path) -> None:
    """A variable of another tool (testcontainers) is listed here, so a typo cannot pass."""
    text = path.read_text(encoding="utf-8")
    for name in re.findall(r"\bTESTCONTAINERS_[A-Z_]+\b", text):
        assert name in OTHER_TOOLS, f"{path.name}: {name} is not a variable the examples mean"
    for value in re.findall(r"TESTCONTAINERS_CONNECTION_MODE\W+(\w+)", text):
        assert value in {"bridge_ip", "gateway_ip", "docker_host"}, value


def test_workflow_runs_the_suite_with_every_backend() -> None:
    runs = {
        name: " ".join(step.get("run", "") for step in github_job(name)["steps"])
        for name in ("test-local", "test-docker", "test-external")
    }
    assert github_job("test-local")["env"]["HARNESS_BACKEND"] == "local"
    assert "make setup" in runs["test-local"] and "pytest" in runs["test-local"]
    assert "pytest --harness-backend=docker" in runs["test-docker"]
    assert "pytest --harness-backend=external" in runs["test-external"]
    lint = " ".join(step.get("run", "") for step in github_job("lint")["steps"])
    for command in ("ruff check", "ruff format --check", "mypy", "mkdocs build --strict"):
        assert command in lint, command
    assert "scripts/actionlint.sh" in lint


def test_workflow_pins_actions_and_bounds_every_job() -> None:
    for name, job in load(WORKFLOW)["jobs"].items():
        assert 0 < job["timeout-minutes"] <= 60, name
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w-]+/[\w-]+@v\d+(\.\d+)*", step["uses"]), step["uses"]


def test_docker_job_pulls_the_images_the_harness_starts() -> None:
    pulls = " ".join(step.get("run", "") for step in github_job("test-docker")["steps"])
    images = {resource.image for resource in REGISTRY.values()}
    assert set(re.findall(r"\b[a-z]+:[\w.-]+", pulls)) >= images


def _service_image_is_the_harness_image(name: str, image: str) -> None:
    expected = REGISTRY[name].image
    # RabbitMQ: the same version with the management plugin, for the external backend's vhosts
    allowed = {expected, expected.replace("-alpine", "-management-alpine")}
    assert image in allowed, f"service {name}: {image} is not {expected}"


def test_github_services_match_the_external_urls() -> None:
    job = github_job("test-external")
    services, env = job["services"], job["env"]
    assert set(services) == set(REGISTRY)
    for name, resource in REGISTRY.items():
        service = services[name]
        _service_image_is_the_harness_image(name, service["image"])
        assert "--health-cmd" in service["options"], f"{name} has no health check"
        url = urlsplit(env[resource.url_env])
        assert url.scheme == resource.url_scheme
        assert url.hostname == "127.0.0.1"
        assert f"127.0.0.1:{url.port}:{url.port}" in service["ports"], name
    management = urlsplit(env["HARNESS_RABBITMQ_MANAGEMENT_URL"])
    assert f"127.0.0.1:{management.port}:15672" in services["rabbitmq"]["ports"]


def test_github_shards_with_pytest_split_from_the_dev_group() -> None:
    job = github_job("test-external")
    run = " ".join(step.get("run", "") for step in job["steps"])
    assert '--splits "$SPLITS" --group "$GROUP"' in run
    assert job["env"]["SPLITS"] == "${{ strategy.job-total }}"
    assert job["strategy"]["matrix"]["group"] == list(
        range(1, 1 + len(job["strategy"]["matrix"]["group"]))
    )
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    assert any(isinstance(r, str) and r.startswith("pytest-split") for r in groups["dev"])


def test_gitlab_services_match_the_external_urls() -> None:
    job = gitlab_job("test:services")
    services = {service["alias"]: service for service in job["services"]}
    assert set(services) == set(REGISTRY)
    for name, resource in REGISTRY.items():
        _service_image_is_the_harness_image(name, services[name]["name"])
        url = urlsplit(job["variables"][resource.url_env])
        assert (url.scheme, url.hostname) == (resource.url_scheme, name)
    assert urlsplit(job["variables"]["HARNESS_RABBITMQ_MANAGEMENT_URL"]).hostname == "rabbitmq"
    assert job["variables"]["HARNESS_BACKEND"] == "external"
    assert 'pytest --splits "$CI_NODE_TOTAL" --group "$CI_NODE_INDEX"' in job["script"]


def test_gitlab_docker_jobs_and_dev_container_need_no_connection_settings() -> None:
    """They run in a container beside the harness's (or with a remote daemon): the harness
    works out where containers are reached, so none forces testcontainers' connection mode."""
    container = load(DEVCONTAINER)
    for variables in (
        gitlab_job("test:docker")["variables"],
        gitlab_job("test:dind")["variables"],
        container["containerEnv"],
    ):
        assert variables["HARNESS_BACKEND"] == "docker"
        assert not {"TESTCONTAINERS_CONNECTION_MODE", "TC_HOST"} & set(variables)
    assert gitlab_job("test:dind")["variables"]["DOCKER_HOST"] == "tcp://docker:2375"
    assert any("docker-outside-of-docker" in feature for feature in container["features"])


@pytest.mark.parametrize("path", [WORKFLOW, GITLAB], ids=lambda p: p.name)
def test_shared_redis_urls_name_no_database(path: Path) -> None:
    """A Redis URL naming an index is the only database the harness may use: shards and xdist
    workers sharing the server would then fail. The examples leave it out."""
    text = path.read_text()
    urls = re.findall(r"HARNESS_REDIS_URL:\s*[\"']?(redis://[^\s\"'#]+)", text)
    assert urls, f"{path.name} sets no HARNESS_REDIS_URL"
    for url in urls:
        assert urlsplit(url).path in ("", "/"), f"{path.name}: {url} names a database"
