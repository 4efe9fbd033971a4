"""Where the local backend looks for server binaries: PATH, Debian's versioned directories, and
Homebrew's prefixes on macOS (checked here in a directory tree laid out as each would be)."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

import harness._binaries as binaries
import harness.resources.rabbitmq as rabbitmq_module
from harness.resources import PostgresResource, RabbitMQResource, RedisResource


def _program(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine's file tree under *tmp_path*: every searched directory is looked up there,
    and PATH holds nothing."""
    real_glob = glob.glob
    monkeypatch.setattr(binaries.glob, "glob", lambda pattern: real_glob(f"{tmp_path}{pattern}"))
    monkeypatch.setattr(rabbitmq_module, "SBIN", str(tmp_path / "usr/lib/rabbitmq/bin"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    return tmp_path


def test_homebrew_postgresql_newest_version_first(root: Path) -> None:
    for version in ("16", "17"):
        for name in ("initdb", "postgres"):
            _program(root / f"opt/homebrew/opt/postgresql@{version}/bin/{name}")
    found = PostgresResource().find_binaries()
    assert found == {
        "initdb": f"{root}/opt/homebrew/opt/postgresql@17/bin/initdb",
        "postgres": f"{root}/opt/homebrew/opt/postgresql@17/bin/postgres",
    }


def test_debian_postgresql_comes_before_homebrew_and_needs_both_binaries(root: Path) -> None:
    _program(root / "usr/lib/postgresql/15/bin/initdb")  # postgres missing: not usable
    for name in ("initdb", "postgres"):
        _program(root / f"usr/local/opt/postgresql@17/bin/{name}")
    assert PostgresResource().find_binaries() == {
        "initdb": f"{root}/usr/local/opt/postgresql@17/bin/initdb",
        "postgres": f"{root}/usr/local/opt/postgresql@17/bin/postgres",
    }
    _program(root / "usr/lib/postgresql/15/bin/postgres")
    assert PostgresResource().find_binaries() == {
        "initdb": f"{root}/usr/lib/postgresql/15/bin/initdb",
        "postgres": f"{root}/usr/lib/postgresql/15/bin/postgres",
    }


def test_homebrew_rabbitmq_and_redis(root: Path) -> None:
    for name in ("rabbitmq-server", "rabbitmqctl"):
        _program(root / f"opt/homebrew/sbin/{name}")
    assert RabbitMQResource().find_binaries() is None  # epmd (Erlang's) is needed too
    _program(root / "opt/homebrew/bin/epmd")
    _program(root / "opt/homebrew/bin/redis-server")
    assert RabbitMQResource().find_binaries() == {
        "rabbitmq-server": f"{root}/opt/homebrew/sbin/rabbitmq-server",
        "rabbitmqctl": f"{root}/opt/homebrew/sbin/rabbitmqctl",
        "epmd": f"{root}/opt/homebrew/bin/epmd",
    }
    assert RedisResource().find_binaries() == {
        "redis-server": f"{root}/opt/homebrew/bin/redis-server"
    }


def test_nothing_installed_says_what_to_install(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert PostgresResource().find_binaries() is None
    for platform, command in (("linux", "apt-get install x"), ("darwin", "brew install x")):
        monkeypatch.setattr(binaries.sys, "platform", platform)
        hint = binaries.install_hint(apt="apt-get install x", brew="brew install x", url_env="U")
        assert hint == f"{command}  (or set U)"
