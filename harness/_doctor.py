"""``harness doctor``: what this machine can provide for each resource, and what to install.

A newcomer's first run fails far from the cause ("could not start PostgreSQL"); doctor answers the
questions before it: which backend ``auto`` would pick and why, which versions are installed, what
is missing with the exact command to install it, and what earlier runs left behind. It starts no
server and opens no connection (except asking the Docker daemon its version), so it stays fast.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from dataclasses import dataclass, field

from ._config import HarnessConfig
from ._exceptions import HarnessError
from ._process import first_line
from ._state import RunRecord, runs_dir
from .backends import BACKENDS, choose, docker_status
from .backends._docker import docker_info
from .resources import REGISTRY, Resource, address, redact

__all__ = ["Diagnosis", "ResourceCheck", "RunSummary", "Tool", "diagnose", "render"]

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
    version: str = ""
    """The installed server's version, read without starting it."""


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
    version = resource.version_of(binaries) if binaries else ""
    tools = [Tool(name, path) for name, path in sorted(binaries.items())]
    install = [] if binaries else [_sudo(step) for step in resource.install_steps()]
    try:
        choice = choose(resource, config)
    except HarnessError as exc:
        return ResourceCheck(
            resource.name, resource.title, used, None, str(exc), tools, install, version
        )
    why = _why(resource, config, choice.backend, choice.reason)
    return ResourceCheck(
        resource.name, resource.title, used, choice.backend, why, tools, install, version
    )


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


def _sudo(command: str) -> str:
    """The command as this user must type it: apt-get needs root."""
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    return f"sudo {command}" if command.lstrip().startswith("apt-get") and not root else command


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
def _go() -> Tool | None:
    go = shutil.which("go")
    return Tool("go", go, first_line([go, "version"])) if go else None


# -- run records -------------------------------------------------------------------------------------
def _runs(config: HarnessConfig) -> list[RunSummary]:
    """Every run record in the state dir; one whose lock is held is being started or stopped
    (its leases are not written yet): doctor does not wait for it."""
    runs = runs_dir(config.state_dir)
    summaries = []
    for path in sorted(runs.glob("*.json")) if runs.is_dir() else []:
        record = RunRecord(config.state_dir, path.stem)
        try:
            record.lock.acquire(timeout=0)
        except TimeoutError:
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
        running = all(BACKENDS[s.backend].alive(s) for s in state.servers.values())
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
    if check.version:
        lines.append(f"  {'version':<16} {check.version}")
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
