"""Options: ini, CLI and environment, one typed config; every value that can be checked without
a server is checked when pytest configures, and a bad one stops the run with the whole message
tested here: the option, where its value came from, the value, and what is accepted."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from harness._config import OPTIONS, Option, config_from_project, parse_config
from harness.resources import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
KNOWN = "rabbitmq, postgres, mongo, redis"
REGISTER = "Fix the name, or register() the resource in the root conftest.py."


@pytest.fixture(autouse=True)
def _no_harness_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for opt in OPTIONS:
        monkeypatch.delenv(opt.env, raising=False)


def _parse(tmp_path: Path, **values: Any) -> Any:
    return parse_config(tmp_path, lambda opt: values.get(opt.name), resources=list(REGISTRY))


def test_defaults(tmp_path: Path) -> None:
    config = _parse(tmp_path)
    assert config.backend == "auto"
    assert config.reuse is False
    assert config.env_file == tmp_path / ".env.test"
    assert config.alembic_ini is None
    assert config.startup_timeout == 60.0
    assert config.origins == {}


def test_values_are_coerced_and_paths_resolved(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "alembic.ini").write_text("[alembic]\n")
    config = _parse(
        tmp_path,
        backend="local",
        reuse="true",
        env_map=["A-URL=postgres", "B=redis.port"],
        images="postgres=postgres:16-alpine",
        alembic_ini="shared/alembic.ini",
        startup_timeout="12.5",
        timeout="0",
        exchange="$RABBITMQ-SERVICES-EXCHANGE",
        resources=["all"],
    )
    assert config.backend == "local"
    assert config.reuse is True
    assert config.env_map == {"A-URL": "postgres", "B": "redis.port"}
    assert config.images == {"postgres": "postgres:16-alpine"}
    assert config.alembic_ini == tmp_path / "shared/alembic.ini"
    assert config.startup_timeout == 12.5
    assert config.timeout == 0
    assert config.origins["backend"] == "--harness-backend on the command line"


def test_command_line_then_environment_then_ini(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = {"backend": "docker"}
    assert (
        parse_config(tmp_path, lambda opt: None, lambda opt: ini.get(opt.name)).backend == "docker"
    )
    monkeypatch.setenv("HARNESS_BACKEND", "external")
    assert (
        parse_config(tmp_path, lambda opt: None, lambda opt: ini.get(opt.name)).backend
        == "external"
    )
    cli = {"backend": "local"}
    assert (
        parse_config(tmp_path, lambda opt: cli.get(opt.name), lambda opt: ini.get(opt.name)).backend
        == "local"
    )


# -- every bad value, every whole message -------------------------------------------------------
CLI = "(from --harness-{} on the command line)"

BAD_VALUES: list[tuple[dict[str, Any], str]] = [
    (
        {"backend": "kubernetes"},
        f"harness_backend {CLI.format('backend')} is 'kubernetes'; use one of auto, docker, "
        "local, external.",
    ),
    (
        {"mongo_driver": "pymango"},
        f"harness_mongo_driver {CLI.format('mongo-driver')} is 'pymango'; use one of auto, "
        "pymongo, motor.",
    ),
    (
        {"leak_check": "sometimes"},
        f"harness_leak_check {CLI.format('leak-check')} is 'sometimes'; use one of fail, warn, "
        "off.",
    ),
    (
        {"reuse": "maybe"},
        f"harness_reuse {CLI.format('reuse')} is 'maybe'; use true or false (1/0, yes/no, on/off).",
    ),
    (
        {"startup_timeout": "5x"},
        f"harness_startup_timeout {CLI.format('startup-timeout')} is '5x'; give a number of "
        "seconds greater than 0.",
    ),
    (
        {"startup_timeout": "0"},
        f"harness_startup_timeout {CLI.format('startup-timeout')} is '0'; give a number of "
        "seconds greater than 0.",
    ),
    (
        {"startup_timeout": "inf"},
        f"harness_startup_timeout {CLI.format('startup-timeout')} is 'inf'; give a number of "
        "seconds greater than 0.",
    ),
    (
        {"cleanup_timeout": "-1"},
        f"harness_cleanup_timeout {CLI.format('cleanup-timeout')} is '-1'; give a number of "
        "seconds greater than 0.",
    ),
    (
        {"timeout": "soon"},
        f"harness_timeout {CLI.format('timeout')} is 'soon'; give a number of seconds (0 for "
        "none).",
    ),
    (
        {"timeout": "nan"},
        f"harness_timeout {CLI.format('timeout')} is 'nan'; give a number of seconds (0 for none).",
    ),
    (
        {"env_map": ["NO_EQUALS"]},
        f"harness_env_map {CLI.format('env-map')}: 'NO_EQUALS' has no '='; write one "
        "VARIABLE=source (e.g. DATABASE-URL=postgres) per line.",
    ),
    (
        {"env_map": ["=postgres"]},
        f"harness_env_map {CLI.format('env-map')}: '=postgres' has no variable name before "
        "'='; write one VARIABLE=source (e.g. DATABASE-URL=postgres) per line.",
    ),
    (
        {"env_map": ["FOO="]},
        f"harness_env_map {CLI.format('env-map')}: 'FOO=' has nothing after '='; write one "
        "VARIABLE=source (e.g. DATABASE-URL=postgres) per line.",
    ),
    (
        {"env_map": ["FOO=postgres", "FOO=redis"]},
        f"harness_env_map {CLI.format('env-map')}: FOO is given twice ('FOO=postgres' and "
        "'FOO=redis'); keep one line per variable name.",
    ),
    (
        {"env_map": ["FOO=kafka"]},
        f"harness_env_map {CLI.format('env-map')}: 'FOO=kafka' names no resource: 'kafka' is "
        f"not one of {KNOWN}. {REGISTER}",
    ),
    (
        {"env_map": ["FOO=kafka.host"]},
        f"harness_env_map {CLI.format('env-map')}: 'FOO=kafka.host' names no resource: 'kafka' "
        f"is not one of {KNOWN}. {REGISTER}",
    ),
    (
        {"env_map": ["FOO=postgres.hostname"]},
        f"harness_env_map {CLI.format('env-map')}: 'FOO=postgres.hostname' asks for "
        "'hostname', which is not a part of a URL: use postgres (the whole URL) or "
        "postgres.host, .port, .address, .user, .password or .path.",
    ),
    (
        {"images": ["kafka=confluentinc/cp-kafka:7.6.0"]},
        f"harness_images {CLI.format('images')}: 'kafka=confluentinc/cp-kafka:7.6.0' names no "
        f"resource: 'kafka' is not one of {KNOWN}. {REGISTER}",
    ),
    (
        {"images": ["postgres:16-alpine"]},
        f"harness_images {CLI.format('images')}: 'postgres:16-alpine' has no '='; write one "
        "RESOURCE=image (e.g. postgres=postgres:16-alpine) per line.",
    ),
    (
        {"images": ["redis=redis:7", "redis=redis:6"]},
        f"harness_images {CLI.format('images')}: redis is given twice ('redis=redis:7' and "
        "'redis=redis:6'); keep one line per resource name.",
    ),
    (
        {"resources": ["postgres", "kafka"]},
        f"harness_resources {CLI.format('resources')}: 'kafka' is not a resource: use all, or "
        f"names from {KNOWN}. {REGISTER}",
    ),
    (
        {"exchange": "$"},
        f"harness_exchange {CLI.format('exchange')} is '$'; give an exchange name, or "
        "$VARIABLE (a variable's name after the $) to read the name from the environment.",
    ),
    (
        {"exchange": "${RABBITMQ-SERVICES-EXCHANGE"},
        f"harness_exchange {CLI.format('exchange')} is '${{RABBITMQ-SERVICES-EXCHANGE'; give an "
        "exchange name, or $VARIABLE (a variable's name after the $) to read the name from the "
        "environment.",
    ),
    (
        {"exchange": " services "},
        f"harness_exchange {CLI.format('exchange')} is ' services '; an exchange name has at "
        "most 255 bytes and no leading or trailing spaces.",
    ),
]


@pytest.mark.parametrize(("values", "message"), BAD_VALUES, ids=lambda v: str(v)[:40])
def test_a_bad_value_is_refused_with_the_whole_message(
    tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError) as raised:
        _parse(tmp_path, **values)
    assert str(raised.value) == message


def test_a_missing_alembic_ini_is_refused_naming_the_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as raised:
        _parse(tmp_path, alembic_ini="migrations/alembic.ini")
    assert str(raised.value) == (
        f"harness_alembic_ini {CLI.format('alembic-ini')} is 'migrations/alembic.ini', but "
        f"{tmp_path}/migrations/alembic.ini does not exist: fix the path (relative to "
        f"{tmp_path}), or remove the option to run without migrations."
    )


def test_the_message_names_the_environment_variable_or_the_ini_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = {"harness_env_map": ["FOO=kafka"]}
    with pytest.raises(ValueError) as from_ini:
        parse_config(
            tmp_path,
            lambda opt: None,
            lambda opt: ini.get(opt.ini),
            ini_origin=lambda opt: "pyproject.toml",
            resources=list(REGISTRY),
        )
    assert str(from_ini.value).startswith("harness_env_map (from pyproject.toml): 'FOO=kafka'")
    monkeypatch.setenv("HARNESS_ENV_MAP", "A=postgres,B=postgres.hostname")
    with pytest.raises(ValueError) as from_env:
        _parse(tmp_path)
    assert str(from_env.value).startswith(
        "harness_env_map (from the HARNESS_ENV_MAP variable): 'B=postgres.hostname' asks for"
    )


def test_a_resource_of_the_projects_own_is_accepted(tmp_path: Path) -> None:
    config = parse_config(
        tmp_path,
        lambda opt: {"env_map": ["CACHE-URL=cache.address"]}.get(opt.name),
        resources=[*REGISTRY, "cache"],
    )
    assert config.env_map == {"CACHE-URL": "cache.address"}


def test_every_option_is_ini_flag_and_env() -> None:
    option = Option("startup_timeout", "h")
    assert (option.ini, option.flag, option.env) == (
        "harness_startup_timeout",
        "--harness-startup-timeout",
        "HARNESS_STARTUP_TIMEOUT",
    )


def test_the_cli_reads_the_same_pyproject_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HARNESS_BACKEND", raising=False)  # the environment wins over the ini
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nharness_backend = "local"\nharness_env_map = ["X=redis"]\n'
    )
    config = config_from_project(tmp_path)
    assert config.backend == "local"
    assert config.env_map == {"X": "redis"}


def test_help_lists_every_option(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    text = result.stdout.str()
    for opt in OPTIONS:
        assert opt.flag in text
        assert opt.ini in text


# -- at configuration time, before any server starts ---------------------------------------------
def _inner(pytester: pytest.Pytester, *args: str, **env: str) -> pytest.RunResult:
    """An inner pytest with a state dir of its own: a run that started anything leaves a trace."""
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith(("HARNESS_", "PYTEST_XDIST"))]:
            patch.delenv(key)
        patch.setenv("HARNESS_STATE_DIR", str(pytester.path / "state"))
        for key, value in env.items():
            patch.setenv(key, value)
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)


def _assert_nothing_started(pytester: pytest.Pytester) -> None:
    assert not list((pytester.path / "state").glob("runs/*.json"))
    assert not (pytester.path / "state" / "servers").exists()


@pytest.mark.parametrize(
    ("setup", "args", "env", "line"),
    [
        (
            "pytest.ini",
            (),
            {},
            "ERROR: harness: harness_env_map (from pytest.ini): 'FOO=kafka' names no resource: "
            f"'kafka' is not one of {KNOWN}. {REGISTER}",
        ),
        (
            "pyproject.toml",
            (),
            {},
            "ERROR: harness: harness_env_map (from pyproject.toml): 'FOO=kafka' names no "
            f"resource: 'kafka' is not one of {KNOWN}. {REGISTER}",
        ),
        (
            None,
            ("--harness-env-map", "FOO=postgres.hostname"),
            {},
            "ERROR: harness: harness_env_map (from --harness-env-map on the command line): "
            "'FOO=postgres.hostname' asks for 'hostname', which is not a part of a URL: use "
            "postgres (the whole URL) or postgres.host, .port, .address, .user, .password or "
            ".path.",
        ),
        (
            None,
            (),
            {"HARNESS_ENV_MAP": "FOO=postgres,FOO=redis"},
            "ERROR: harness: harness_env_map (from the HARNESS_ENV_MAP variable): FOO is given "
            "twice ('FOO=postgres' and 'FOO=redis'); keep one line per variable name.",
        ),
        (
            None,
            ("-o", "harness_startup_timeout=5x"),
            {},
            "ERROR: harness: harness_startup_timeout (from -o harness_startup_timeout=... on the "
            "command line) is '5x'; give a number of seconds greater than 0.",
        ),
    ],
)
def test_a_bad_value_stops_pytest_before_any_server_starts(
    pytester: pytest.Pytester,
    setup: str | None,
    args: tuple[str, ...],
    env: dict[str, str],
    line: str,
) -> None:
    if setup == "pytest.ini":
        pytester.makefile(".ini", pytest="[pytest]\nharness_env_map = FOO=kafka\n")
    elif setup == "pyproject.toml":
        pytester.makepyprojecttoml('[tool.pytest.ini_options]\nharness_env_map = ["FOO=kafka"]\n')
    pytester.makepyfile(test_x="def test_x(configure_test_env, postgres_url):\n    pass\n")
    result = _inner(pytester, *args, **env)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == line, result.stderr.str()
    _assert_nothing_started(pytester)


def test_a_resource_registered_in_the_root_conftest_may_be_mapped(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
        from harness.resources import register
        from harness.resources.redis import RedisResource

        class CacheResource(RedisResource):
            name = "cache"
            title = "Cache"

        register(CacheResource())
        """
    )
    pytester.makeini("[pytest]\nharness_env_map = CACHE-ADDRESS=cache.address\n")
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = _inner(pytester)
    result.assert_outcomes(passed=1)


def test_the_harness_command_refuses_the_same_values_with_status_2(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [tool.pytest.ini_options]
            harness_env_map = ["FOO=kafka"]
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    env["HARNESS_STATE_DIR"] = str(tmp_path / "state")
    for command in ("doctor", "up"):
        result = subprocess.run(
            [sys.executable, "-m", "harness", command, "--rootdir", str(tmp_path)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr.splitlines()[-1] == (
            f"harness {command}: error: harness_env_map (from pyproject.toml): 'FOO=kafka' names no "
            f"resource: 'kafka' is not one of {KNOWN}. {REGISTER}"
        )
    assert not (tmp_path / "state" / "runs").exists() or not list(
        (tmp_path / "state" / "runs").glob("*.json")
    )
