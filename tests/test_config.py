"""Options: ini, CLI and environment, one typed config; bad values are usage errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness._config import OPTIONS, Option, config_from_pyproject, parse_config


def _parse(tmp_path: Path, **values: Any) -> Any:
    return parse_config(tmp_path, lambda opt: values.get(opt.name))


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for opt in OPTIONS:
        monkeypatch.delenv(opt.env, raising=False)
    config = _parse(tmp_path)
    assert config.backend == "auto"
    assert config.reuse is False
    assert config.env_file == tmp_path / ".env.test"
    assert config.alembic_ini is None
    assert config.startup_timeout == 60.0


def test_values_are_coerced_and_paths_resolved(tmp_path: Path) -> None:
    config = _parse(
        tmp_path,
        backend="local",
        reuse="true",
        env_map=["A-URL=postgres", "B=redis.port"],
        images="postgres=postgres:16-alpine",
        alembic_ini="shared/alembic.ini",
        startup_timeout="12.5",
    )
    assert config.backend == "local"
    assert config.reuse is True
    assert config.env_map == {"A-URL": "postgres", "B": "redis.port"}
    assert config.images == {"postgres": "postgres:16-alpine"}
    assert config.alembic_ini == tmp_path / "shared/alembic.ini"
    assert config.startup_timeout == 12.5


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


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"backend": "kubernetes"}, "not one of auto, docker, local, external"),
        ({"env_map": ["NO_EQUALS"]}, "harness_env_map: 'NO_EQUALS' is not KEY=value"),
        (
            {"startup_timeout": "soon"},
            "harness_startup_timeout is .soon.; give a number of seconds",
        ),
        ({"timeout": "-1"}, "harness_timeout is .-1.; give a number of seconds"),
        (
            {"leak_check": "sometimes"},
            "harness_leak_check is .sometimes.; use one of fail, warn, off",
        ),
    ],
)
def test_bad_values_name_the_option(tmp_path: Path, values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _parse(tmp_path, **values)


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
    config = config_from_pyproject(tmp_path)
    assert config.backend == "local"
    assert config.env_map == {"X": "redis"}


def test_bad_cli_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--harness-backend=podman")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*harness backend 'podman' is not one of*"])


def test_help_lists_every_option(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    text = result.stdout.str()
    for opt in OPTIONS:
        assert opt.flag in text
        assert opt.ini in text
