"""Harness configuration: every option is both an ini key (``harness_*``) and a CLI flag
(``--harness-*``), read in one place into one typed object.

Precedence: command line, then environment (``HARNESS_*``), then ini (``[tool.pytest.ini_options]``),
then the defaults below.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

__all__ = [
    "BACKEND_CHOICES",
    "LEAK_MODES",
    "MONGO_DRIVERS",
    "OPTIONS",
    "URL_PARTS",
    "Backend",
    "HarnessConfig",
    "LeakMode",
    "Option",
    "config_from_project",
    "parse_config",
]

Backend = Literal["auto", "docker", "local", "external"]
BACKEND_CHOICES: tuple[Backend, ...] = get_args(Backend)
LeakMode = Literal["fail", "warn", "off"]
LEAK_MODES: tuple[LeakMode, ...] = get_args(LeakMode)
MONGO_DRIVERS = ("auto", "pymongo", "motor")
URL_PARTS = ("host", "port", "address", "user", "password", "path")
"""The parts of a live URL a ``harness_env_map`` source may ask for (``postgres.port``)."""


@dataclass(frozen=True)
class Option:
    """One harness option: ini key ``harness_<name>``, flag ``--harness-<name>``, env ``HARNESS_<NAME>``."""

    name: str
    help: str
    kind: Literal["string", "bool", "linelist", "float"] = "string"
    default: Any = None
    metavar: str | None = None
    """What the flag's value looks like in ``--help`` (lines: one per flag)."""

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
        "VARIABLE=SOURCE",
    ),
    Option(
        "resources",
        "resources started for every test, whatever fixtures it asks for, with their mapped "
        "variables set (names, or 'all'); by default a test starts what its fixtures need",
        "linelist",
        [],
        "NAME",
    ),
    Option(
        "alembic_ini",
        "alembic config whose `upgrade head` builds the template database",
        default="",
    ),
    Option(
        "images",
        "RESOURCE=image lines overriding the Docker images",
        "linelist",
        [],
        "RESOURCE=IMAGE",
    ),
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
        "keep_workdir",
        "keep a local server's directory (its data and full log) when its start fails, and "
        "name it in the error",
        "bool",
        False,
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
    keep_workdir: bool = False
    state_dir: Path = field(default_factory=lambda: default_state_dir())
    origins: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    """Where each option's value came from (``pyproject.toml``, ``the HARNESS_ENV_MAP
    variable``, ``--harness-env-map on the command line``...), for messages; an option left at
    its default has no entry."""


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
    *,
    ini_origin: Callable[[Option], str] = lambda opt: "the ini file",
    resources: Collection[str] | None = None,
) -> HarnessConfig:
    """Build the config: the command line (*cli*), then ``HARNESS_*``, then the ini (*ini*, whose
    value *ini_origin* names: ``pyproject.toml``...), then the default. Each lookup returns an
    option's raw value or ``None``.

    Every value is checked here, before any server starts: against *resources* (the registered
    resource names) too when given.

    :raises ValueError: for a value that cannot be used, naming the option, where it came from,
        the value and the fix.
    """
    raw: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for opt in OPTIONS:
        value, origin = _first(
            (cli(opt), f"{opt.flag} on the command line"),
            (os.environ.get(opt.env), f"the {opt.env} variable"),
            (ini(opt), ini_origin(opt)),
        )
        if origin:
            origins[opt.name] = origin
        raw[opt.name] = _coerce(opt, value, origin)
    checks = _Checks(origins, resources)
    return HarnessConfig(
        rootdir=rootdir,
        backend=cast(Backend, checks.choice("backend", raw["backend"], BACKEND_CHOICES)),
        reuse=raw["reuse"],
        env_file=_path(rootdir, raw["env_file"]),
        env_map=checks.env_map(raw["env_map"]),
        alembic_ini=checks.alembic_ini(rootdir, raw["alembic_ini"]),
        images=checks.images(raw["images"]),
        startup_timeout=raw["startup_timeout"],
        timeout=raw["timeout"],
        leak_check=cast(LeakMode, checks.choice("leak_check", raw["leak_check"], LEAK_MODES)),
        cleanup_timeout=raw["cleanup_timeout"],
        resources=checks.resources(raw["resources"]),
        exchange=checks.exchange(raw["exchange"]),
        mongo_driver=checks.choice("mongo_driver", raw["mongo_driver"], MONGO_DRIVERS),
        keep_workdir=raw["keep_workdir"],
        state_dir=_path(rootdir, raw["state_dir"]) or default_state_dir(),
        origins=origins,
    )


def config_from_project(
    rootdir: Path,
    overrides: Mapping[str, Any] | None = None,
    resources: Collection[str] | None = None,
) -> HarnessConfig:
    """The same config the pytest plugin would build, for the CLI (`harness up`, `harness
    doctor`): *overrides* (its flags), then ``HARNESS_*``, then the ini file pytest would read
    in *rootdir* (``pytest.ini``, ``pyproject.toml``, ``tox.ini`` or ``setup.cfg``)."""
    from ._ini import IniFile, read_ini

    ini = read_ini(rootdir) or IniFile(None)
    given = dict(overrides or {})
    return parse_config(
        rootdir,
        lambda opt: given.get(opt.name),
        lambda opt: ini.options.get(opt.ini),
        ini_origin=lambda opt: ini.name,
        resources=resources,
    )


def _first(*candidates: tuple[Any, str]) -> tuple[Any, str]:
    """The first value given, with where it came from; ``(None, "")`` when none is."""
    return next(
        ((v, origin) for v, origin in candidates if v is not None and v != "" and v != []),
        (None, ""),
    )


def _where(option: str, origin: str) -> str:
    return f"harness_{option} (from {origin})" if origin else f"harness_{option}"


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}
_POSITIVE = {"startup_timeout", "cleanup_timeout"}
"""Float options for which 0 means nothing useful (every start, every cleanup would fail)."""


def _coerce(opt: Option, value: Any, origin: str) -> Any:
    if value is None:
        return opt.default
    if opt.kind == "bool":
        word = str(value).strip().lower()
        if isinstance(value, bool) or word in _TRUE | _FALSE:
            return value if isinstance(value, bool) else word in _TRUE
        raise ValueError(
            f"{_where(opt.name, origin)} is {value!r}; use true or false (1/0, yes/no, on/off)."
        )
    if opt.kind == "float":
        return _seconds(opt, value, origin)
    if opt.kind == "linelist" and isinstance(value, str):
        return [line for line in value.replace(",", "\n").splitlines() if line.strip()]
    return value


def _seconds(opt: Option, value: Any, origin: str) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if opt.name in _POSITIVE:
        if not 0 < seconds < math.inf:
            raise ValueError(
                f"{_where(opt.name, origin)} is {value!r}; give a number of seconds greater than 0."
            )
    elif not 0 <= seconds < math.inf:
        raise ValueError(
            f"{_where(opt.name, origin)} is {value!r}; give a number of seconds (0 for none)."
        )
    return seconds


class _Checks:
    """The checks of option values that need no server, each error naming where the value
    came from and what is accepted."""

    def __init__(self, origins: Mapping[str, str], resources: Collection[str] | None) -> None:
        self.origins = origins
        self.known = list(resources) if resources is not None else None

    def where(self, option: str) -> str:
        return _where(option, self.origins.get(option, ""))

    def choice(self, option: str, value: str, choices: Sequence[str]) -> str:
        if value not in choices:
            raise ValueError(f"{self.where(option)} is {value!r}; use one of {', '.join(choices)}.")
        return value

    def resource(self, option: str, entry: str, name: str) -> None:
        if self.known is None or name in self.known:
            return
        known = ", ".join(self.known)
        problem = (
            f"{name!r} is not a resource: use all, or names from {known}"
            if entry == name
            else f"{entry!r} names no resource: {name!r} is not one of {known}"
        )
        raise ValueError(
            f"{self.where(option)}: {problem}. Fix the name, or register() the resource in the "
            "root conftest.py."
        )

    def pairs(self, option: str, lines: Sequence[str], example: str) -> dict[str, str]:
        """``KEY=value`` lines: each one well formed, each key once."""
        pairs: dict[str, str] = {}
        for line in lines:
            key, sep, value = (part.strip() for part in line.partition("="))
            what = "a variable name" if option == "env_map" else "a resource name"
            if not sep:
                problem = "has no '='"
            elif not key:
                problem = f"has no {what.removeprefix('a ')} before '='"
            elif not value:
                problem = "has nothing after '='"
            else:
                if key in pairs:
                    raise ValueError(
                        f"{self.where(option)}: {key} is given twice "
                        f"({f'{key}={pairs[key]}'!r} and {f'{key}={value}'!r}); keep one line "
                        f"per {what.removeprefix('a ')}."
                    )
                pairs[key] = value
                continue
            raise ValueError(
                f"{self.where(option)}: {line.strip()!r} {problem}; write one {example} per line."
            )
        return pairs

    def env_map(self, lines: Sequence[str]) -> dict[str, str]:
        mapping = self.pairs("env_map", lines, "VARIABLE=source (e.g. DATABASE-URL=postgres)")
        for variable, source in mapping.items():
            resource, dot, part = source.partition(".")
            self.resource("env_map", f"{variable}={source}", resource)
            if dot and part not in URL_PARTS:
                raise ValueError(
                    f"{self.where('env_map')}: {f'{variable}={source}'!r} asks for {part!r}, which "
                    f"is not a part of a URL: use {resource} (the whole URL) or {resource}."
                    f"{', .'.join(URL_PARTS[:-1])} or .{URL_PARTS[-1]}."
                )
        return mapping

    def images(self, lines: Sequence[str]) -> dict[str, str]:
        images = self.pairs("images", lines, "RESOURCE=image (e.g. postgres=postgres:16-alpine)")
        for name, image in images.items():
            self.resource("images", f"{name}={image}", name)
        return images

    def resources(self, lines: Sequence[str]) -> tuple[str, ...]:
        # pytest.ini's "harness_resources = redis, postgres" is one line
        wanted = tuple(name.strip() for line in lines for name in line.split(",") if name.strip())
        for name in wanted:
            if name != "all":
                self.resource("resources", name, name)
        return wanted

    def exchange(self, value: str) -> str:
        variable = value[1:]
        if variable.startswith("{") and variable.endswith("}"):
            variable = variable[1:-1]
        if value.startswith("$") and not _VARIABLE.fullmatch(variable):
            raise ValueError(
                f"{self.where('exchange')} is {value!r}; give an exchange name, or $VARIABLE "
                "(a variable's name after the $) to read the name from the environment."
            )
        if value != value.strip() or len(value.encode()) > 255:
            raise ValueError(
                f"{self.where('exchange')} is {value!r}; an exchange name has at most 255 "
                "bytes and no leading or trailing spaces."
            )
        return value

    def alembic_ini(self, rootdir: Path, value: str | None) -> Path | None:
        path = _path(rootdir, value)
        if path is not None and not path.is_file():
            raise ValueError(
                f"{self.where('alembic_ini')} is {value!r}, but {path} does not exist: fix the "
                f"path (relative to {rootdir}), or remove the option to run without migrations."
            )
        return path


_VARIABLE = re.compile(r"[^\s${}=]+")
"""An environment variable's name as the harness accepts it (``-`` allowed, as the services'
names have it)."""


def _path(rootdir: Path, value: str | None) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else rootdir / path
