"""Harness configuration: every option is both an ini key (``harness_*``) and a CLI flag
(``--harness-*``), read in one place into one typed object.

Precedence: command line, then environment (``HARNESS_*``), then ini (``[tool.pytest.ini_options]``),
then the defaults below.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

__all__ = [
    "BACKEND_CHOICES",
    "LEAK_MODES",
    "OPTIONS",
    "Backend",
    "HarnessConfig",
    "LeakMode",
    "Option",
    "config_from_pyproject",
    "parse_config",
]

Backend = Literal["auto", "docker", "local", "external"]
BACKEND_CHOICES: tuple[Backend, ...] = get_args(Backend)
LeakMode = Literal["fail", "warn", "off"]
LEAK_MODES: tuple[LeakMode, ...] = get_args(LeakMode)
MONGO_DRIVERS = ("auto", "pymongo", "motor")


@dataclass(frozen=True)
class Option:
    """One harness option: ini key ``harness_<name>``, flag ``--harness-<name>``, env ``HARNESS_<NAME>``."""

    name: str
    help: str
    kind: Literal["string", "bool", "linelist", "float"] = "string"
    default: Any = None

    @property
    def ini(self) -> str:
        return f"harness_{self.name}"

    @property
    def flag(self) -> str:
        return "--harness-" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return f"HARNESS_{self.name.upper()}"


OPTIONS: tuple[Option, ...] = (
    Option(
        "backend",
        "how servers are provided: auto (default), docker, local or external",
        default="auto",
    ),
    Option(
        "reuse", "keep servers running after the run and reattach to them next time", "bool", False
    ),
    Option(
        "env_file",
        "static test variables loaded before test modules are imported",
        default=".env.test",
    ),
    Option(
        "env_map",
        "VARIABLE=source lines: which variable gets which live URL (source: postgres, "
        "rabbitmq, mongo, redis, or <resource>.host/.port/.address/.user/.password/.path)",
        "linelist",
        [],
    ),
    Option(
        "resources",
        "resources started for every test, whatever fixtures it asks for, with their mapped "
        "variables set (names, or 'all'); by default a test starts what its fixtures need",
        "linelist",
        [],
    ),
    Option(
        "alembic_ini",
        "alembic config whose `upgrade head` builds the template database",
        default="",
    ),
    Option("images", "RESOURCE=image lines overriding the Docker images", "linelist", []),
    Option(
        "startup_timeout", "seconds a server may take to answer before the run fails", "float", 60.0
    ),
    Option(
        "timeout",
        "time limit of each anyio test in seconds, 0 for none; "
        "a test overrides it with @pytest.mark.harness_timeout(seconds)",
        "float",
        300.0,
    ),
    Option(
        "leak_check",
        "after each test, fail (default), warn or do nothing (off) when it left rows, documents "
        "or keys behind; a test overrides it with @pytest.mark.harness_leak_check(mode)",
        default="fail",
    ),
    Option(
        "cleanup_timeout",
        "seconds a seed's cleanup may take before it fails with CleanupTimeoutError",
        "float",
        30.0,
    ),
    Option(
        "exchange",
        "default exchange of listen(), publish() and rabbitmq_queue(): a name, or $VARIABLE "
        "to read it from the environment when called",
        default="",
    ),
    Option(
        "mongo_driver",
        "the harness's Mongo client: auto (PyMongo's async API if installed, else motor), "
        "pymongo or motor",
        default="auto",
    ),
    Option(
        "state_dir",
        "where run records and server temp dirs live (default: a per-user temp dir)",
        default="",
    ),
)


@dataclass(frozen=True)
class HarnessConfig:
    """Everything the harness needs to know about this run."""

    rootdir: Path
    backend: Backend = "auto"
    reuse: bool = False
    env_file: Path | None = None
    env_map: Mapping[str, str] = field(default_factory=dict)
    alembic_ini: Path | None = None
    images: Mapping[str, str] = field(default_factory=dict)
    startup_timeout: float = 60.0
    timeout: float = 300.0
    leak_check: LeakMode = "fail"
    cleanup_timeout: float = 30.0
    resources: tuple[str, ...] = ()
    exchange: str = ""
    mongo_driver: str = "auto"
    state_dir: Path = field(default_factory=lambda: default_state_dir())


def default_state_dir() -> Path:
    """A per-user directory for run records, shared by every project of that user."""
    if hasattr(os, "getuid"):
        return Path(tempfile.gettempdir()) / f"harness-{os.getuid()}"
    import getpass  # no uids (Windows): the login name

    try:
        user = getpass.getuser()
    except (ImportError, KeyError, OSError):  # no login name known either
        user = "user"
    return Path(tempfile.gettempdir()) / f"harness-{user}"


def parse_config(
    rootdir: Path,
    cli: Callable[[Option], Any],
    ini: Callable[[Option], Any] = lambda opt: None,
) -> HarnessConfig:
    """Build the config: the command line (*cli*), then ``HARNESS_*``, then the ini (*ini*), then
    the default. Each lookup returns an option's raw value or ``None``.

    :raises ValueError: for a value that cannot be used, naming the option and the fix.
    """
    raw = {
        opt.name: _coerce(opt, _first(cli(opt), os.environ.get(opt.env), ini(opt), opt.default))
        for opt in OPTIONS
    }
    backend = raw["backend"]
    if backend not in BACKEND_CHOICES:
        raise ValueError(f"harness backend {backend!r} is not one of {', '.join(BACKEND_CHOICES)}.")
    if raw["mongo_driver"] not in MONGO_DRIVERS:
        raise ValueError(
            f"harness_mongo_driver is {raw['mongo_driver']!r}; use one of {', '.join(MONGO_DRIVERS)}."
        )
    if raw["leak_check"] not in LEAK_MODES:
        raise ValueError(
            f"harness_leak_check is {raw['leak_check']!r}; use one of {', '.join(LEAK_MODES)}."
        )
    return HarnessConfig(
        rootdir=rootdir,
        backend=cast(Backend, backend),
        reuse=raw["reuse"],
        env_file=_path(rootdir, raw["env_file"]),
        env_map=_pairs("harness_env_map", raw["env_map"]),
        alembic_ini=_path(rootdir, raw["alembic_ini"]),
        images=_pairs("harness_images", raw["images"]),
        startup_timeout=raw["startup_timeout"],
        timeout=raw["timeout"],
        leak_check=cast(LeakMode, raw["leak_check"]),
        cleanup_timeout=raw["cleanup_timeout"],
        resources=tuple(  # pytest.ini's "harness_resources = redis, postgres" is one line
            name.strip() for line in raw["resources"] for name in line.split(",") if name.strip()
        ),
        exchange=raw["exchange"],
        mongo_driver=raw["mongo_driver"],
        state_dir=_path(rootdir, raw["state_dir"]) or default_state_dir(),
    )


def config_from_pyproject(
    rootdir: Path, overrides: Mapping[str, Any] | None = None
) -> HarnessConfig:
    """The same config the pytest plugin would build, for the CLI (`harness up`, `harness doctor`)."""
    pyproject = rootdir / "pyproject.toml"
    ini: dict[str, Any] = {}
    if pyproject.is_file():
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        ini = data.get("tool", {}).get("pytest", {}).get("ini_options", {})
    given = dict(overrides or {})
    return parse_config(rootdir, lambda opt: given.get(opt.name), lambda opt: ini.get(opt.ini))


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None and v != "" and v != []), None)


def _coerce(opt: Option, value: Any) -> Any:
    if value is None:
        return opt.default
    if opt.kind == "bool":
        return (
            value
            if isinstance(value, bool)
            else str(value).strip().lower() in {"1", "true", "yes", "on"}
        )
    if opt.kind == "float":
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0
        if not seconds >= 0:
            raise ValueError(f"{opt.ini} is {value!r}; give a number of seconds (0 for none).")
        return seconds
    if opt.kind == "linelist" and isinstance(value, str):
        return [line for line in value.replace(",", "\n").splitlines() if line.strip()]
    return value


def _pairs(option: str, lines: Sequence[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{option}: {line!r} is not KEY=value.")
        pairs[key.strip()] = value.strip()
    return pairs


def _path(rootdir: Path, value: str | None) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else rootdir / path
