"""``harness doctor``: what this machine can provide for each resource, and what to install.

A newcomer's first run fails far from the cause ("could not start PostgreSQL"); doctor answers the
questions before it: which backend ``auto`` would pick and why, which versions are installed, what
is missing with the exact command to install it, and what earlier runs left behind. It starts no
server and opens no connection (except asking the Docker daemon its version), so it stays fast.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from filelock import Timeout

from ._config import HarnessConfig
from ._exceptions import HarnessError
from ._ferretdb_build import SOURCE as FERRETDB_SOURCE
from ._state import RunRecord
from .backends import PROVIDERS, choose, docker_status
from .backends._docker import docker_info
from .resources import REGISTRY, Resource
from .resources._urls import address, redact

__all__ = ["Diagnosis", "ResourceCheck", "RunSummary", "Tool", "diagnose", "render"]

VERSION_TIMEOUT = 5.0
GO_INSTALL = "apt-get install golang-go, or see https://go.dev/dl/"
WIDTH = 100


@dataclass(frozen=True)
class Tool:
    """A program found on this machine, with the version it reports (``""`` when not asked)."""

    name: str
    path: str
    version: str = ""


@dataclass(frozen=True)
class ResourceCheck:
    """Doctor's verdict on one resource."""

    name: str
    title: str
    used: bool
    """Whether this project uses it (``--resources`` / ``harness_env_map``): only those count."""
    backend: str | None
    """The backend that would provide it, ``None`` when none can."""
    why: str
    tools: list[Tool] = field(default_factory=list)
    install: list[str] = field(default_factory=list)
    """How to get the local binaries when they are missing: one exact command or step each."""


@dataclass(frozen=True)
class RunSummary:
    """A run record found in the state dir and what it means."""

    key: str
    status: str
    servers: list[str]
    orphaned: bool


@dataclass(frozen=True)
class Diagnosis:
    config: HarnessConfig
    docker: tuple[bool, str]
    go: Tool | None
    resources: list[ResourceCheck]
    runs: list[RunSummary]
    problems: list[str]
    """Project-level failures (a broken migration chain) that would fail every run."""

    @property
    def ok(self) -> bool:
        return not self.problems and all(c.backend for c in self.resources if c.used)


# -- diagnosis -------------------------------------------------------------------------------------
def diagnose(config: HarnessConfig, used: list[str]) -> Diagnosis:
    """Look at this machine and project without starting anything."""
    go = _go()
    return Diagnosis(
        config=config,
        docker=docker_status(),
        go=go,
        resources=[_check(r, config, r.name in used, go) for r in REGISTRY.values()],
        runs=_runs(config),
        problems=_migration_problems(config) if "postgres" in used else [],
    )


def _check(resource: Resource, config: HarnessConfig, used: bool, go: Tool | None) -> ResourceCheck:
    binaries = resource.find_binaries() or {}
    tools = [Tool(name, path, _version(name, path)) for name, path in sorted(binaries.items())]
    install = [] if binaries else _install_steps(resource, go)
    try:
        choice = choose(resource, config)
    except HarnessError as exc:
        return ResourceCheck(resource.name, resource.title, used, None, str(exc), tools, install)
    why = _why(resource, config, choice.backend, choice.reason)
    return ResourceCheck(resource.name, resource.title, used, choice.backend, why, tools, install)


def _why(resource: Resource, config: HarnessConfig, backend: str, reason: str) -> str:
    """The reason in a reader's terms: what ``auto`` looked at, in order, and what it found."""
    if backend == "external":
        return f"{resource.url_env} is set ({redact(os.environ.get(resource.url_env, ''))})"
    forced = f"backend forced to {config.backend}" if config.backend != "auto" else ""
    if backend == "docker":
        steps = [forced or f"{resource.url_env} is not set", reason]
    else:
        docker = "" if config.backend != "auto" else "no Docker daemon answers"
        steps = [forced or f"{resource.url_env} is not set", docker, "local binaries installed"]
    return "; ".join(step for step in steps if step)


def _install_steps(resource: Resource, go: Tool | None) -> list[str]:
    if resource.name == "mongo":  # FerretDB is the harness's own build: say how, and what it needs
        return [
            "python -m harness build-ferretdb  (builds FerretDB; `make setup` does it too)",
            *([] if go else [f"  it needs Go first: {_sudo(GO_INSTALL)}"]),
            "or put a real `mongod` on PATH, or export HARNESS_MONGO_URL",
        ]
    return [_sudo(resource.install_hint)]


def _sudo(command: str) -> str:
    """The command as this user must type it: apt-get needs root."""
    return f"sudo {command}" if command.startswith("apt-get") and os.geteuid() != 0 else command


def _migration_problems(config: HarnessConfig) -> list[str]:
    if config.alembic_ini is None:
        return []
    from ._migrations import single_head  # alembic is slow to import: only when configured

    try:
        single_head(config.alembic_ini)
    except HarnessError as exc:
        return [str(exc)]
    return []


# -- versions --------------------------------------------------------------------------------------
def _first_line(argv: list[str]) -> str:
    """The first line a ``--version`` call prints; ``""`` if it fails or hangs."""
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=VERSION_TIMEOUT, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0].strip() if result.returncode == 0 and lines else ""


def _rabbitmq_version(path: str) -> str:
    """RabbitMQ's version without booting Erlang (``rabbitmqctl version`` takes seconds): the
    ``vsn`` of the installed ``rabbit.app``, else the Debian package version."""
    root = Path(os.path.realpath(path)).parent.parent  # .../rabbitmq_server-X/sbin/rabbitmq-server
    version = ""
    for app in sorted(glob.glob(str(root / "plugins" / "rabbit-*" / "ebin" / "rabbit.app"))):
        found = re.search(r'\{vsn,\s*"([^"]+)"\}', Path(app).read_text(errors="replace"))
        version = found.group(1) if found else version
    if not version and shutil.which("dpkg-query"):
        version = _first_line(["dpkg-query", "-W", "-f=${Version}", "rabbitmq-server"])
    erlang = _erlang_version()
    return " ".join(
        part
        for part in (f"RabbitMQ {version}" if version else "", erlang and f"({erlang})")
        if part
    )


def _erlang_version() -> str:
    erl = shutil.which("erl")
    if erl is None:
        return ""
    releases = Path(os.path.realpath(erl)).parent.parent / "releases"
    for otp in sorted(releases.glob("*/OTP_VERSION"), reverse=True):
        return f"Erlang/OTP {otp.read_text().strip()}"
    return ""


def _ferretdb_version(path: str) -> str:
    """The FerretDB module version the cached build pins (the binary has no ``--version``)."""
    gomod = (FERRETDB_SOURCE / "go.mod").read_text(encoding="utf-8")
    found = re.search(r"github\.com/FerretDB/FerretDB (v\S+)", gomod)
    return f"FerretDB {found.group(1)} (harness build)" if found else "FerretDB (harness build)"


VERSION_READERS: dict[str, Callable[[str], str]] = {
    "postgres": lambda path: _first_line([path, "--version"]),
    "redis-server": lambda path: _first_line([path, "--version"]),
    "mongod": lambda path: _first_line([path, "--version"]),
    "rabbitmq-server": _rabbitmq_version,
    "ferretdb": _ferretdb_version,
}
"""Binary name -> how to read its version. Helpers (initdb, rabbitmqctl, epmd) are not asked:
some start a daemon on unknown flags, and the server's version says it all."""


def _version(name: str, path: str) -> str:
    reader = VERSION_READERS.get(name)
    return reader(path) if reader else ""


def _go() -> Tool | None:
    go = shutil.which("go")
    return Tool("go", go, _first_line([go, "version"])) if go else None


# -- run records -------------------------------------------------------------------------------------
def _runs(config: HarnessConfig) -> list[RunSummary]:
    """Every run record in the state dir; one whose lock is held is being started or stopped
    (its leases are not written yet): doctor does not wait for it."""
    runs = config.state_dir / "runs"
    summaries = []
    for path in sorted(runs.glob("*.json")) if runs.is_dir() else []:
        record = RunRecord(config.state_dir, path.stem)
        try:
            record.lock.acquire(timeout=0)
        except Timeout:
            summaries.append(RunSummary(record.key, "starting or stopping right now", [], False))
            continue
        try:
            state = record.load()
        finally:
            record.lock.release()
        servers = [
            f"{s.resource} ({s.backend}, {address(s.url) if s.url else 'starting'})"
            for s in state.servers.values()
        ]
        live = state.live_leases()
        running = all(PROVIDERS[s.backend].alive(s) for s in state.servers.values())
        if live:
            pids = ", ".join(sorted({lease.partition(":")[0] for lease in live}))
            status, orphaned = f"in use by PID {pids}", False
        elif state.reuse and running:
            status, orphaned = "reused servers, kept running (`harness down` stops them)", False
        else:
            status, orphaned = "orphaned: its processes are gone (`harness reap` stops it)", True
        summaries.append(RunSummary(path.stem, status, servers, orphaned))
    return summaries


# -- output --------------------------------------------------------------------------------------------
def render(diagnosis: Diagnosis) -> list[str]:
    """The report, one line each: what a person reads top to bottom."""
    config = diagnosis.config
    available, detail = diagnosis.docker
    go = diagnosis.go
    lines = [
        f"harness doctor: project {config.rootdir} (backend: {config.backend})",
        "",
        f"Docker       {docker_info().describe() if available else detail}",
        f"Go           {f'{go.version} at {go.path}' if go else 'not found'}"
        + ("" if go else f"  (needed only to build FerretDB: {_sudo(GO_INSTALL)})"),
    ]
    for check in diagnosis.resources:
        lines += ["", *_render_check(check)]
    lines += ["", *_render_project(diagnosis)]
    return lines


def _render_check(check: ResourceCheck) -> list[str]:
    unused = "" if check.used else "  [not used by this project]"
    if check.backend is None:
        lines = [f"{check.title:<12} CANNOT BE PROVIDED{unused}"]
        for paragraph in check.why.splitlines():
            lines += textwrap.wrap(paragraph, WIDTH, initial_indent="  ", subsequent_indent="  ")
        label = "  to fix it, install the local binaries:"
    else:
        lines = [f"{check.title:<12} {check.backend}: {check.why}{unused}"]
        label = "  local binaries (the fallback) are not installed; to install them:"
    for tool in check.tools:
        version = f"  {tool.version}" if tool.version else ""
        lines.append(f"  {tool.name:<16} {tool.path}{version}")
    if check.install:
        lines += [label, *(f"    {step}" for step in check.install)]
    return lines


def _render_project(diagnosis: Diagnosis) -> list[str]:
    config = diagnosis.config
    orphans = sum(run.orphaned for run in diagnosis.runs)
    lines = [
        f"State dir    {config.state_dir}  ({len(diagnosis.runs)} run record(s), {orphans} orphaned)"
    ]
    for run in diagnosis.runs:
        lines.append(f"  run {run.key}: {run.status}")
        lines += [f"    {server}" for server in run.servers]
    if config.env_file is not None:
        lines.append(
            f"Env file     {config.env_file}"
            + ("" if config.env_file.exists() else "  (not found)")
        )
    if config.alembic_ini is not None:
        lines.append(f"Migrations   {config.alembic_ini}")
    lines += [f"PROBLEM: {problem}" for problem in diagnosis.problems]
    used = [c for c in diagnosis.resources if c.used]
    failing = [c.title for c in used if c.backend is None]
    lines.append("")
    if failing or diagnosis.problems:
        what = f"cannot provide {', '.join(failing)}" if failing else "the project has problems"
        lines.append(f"NOT READY: {what}; fix what is listed above (or run `make setup`).")
    else:
        count = f"all {len(used)} resources" if len(used) != 1 else "the resource"
        lines.append(f"OK: {count} this project uses can be provided.")
    return lines
