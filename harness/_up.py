"""``harness up`` and ``harness down``: the test servers, for a developer's own use.

``up`` starts the project's resources through :class:`~harness._infra.Infrastructure`, exactly as a
test session does (same backends, migrated template, a namespace of its own), prints the variables
a service needs to reach them, and keeps them until Ctrl-C or SIGTERM. That is how a developer runs
a service under ``uvicorn`` against real infrastructure. ``down`` stops the servers a ``--reuse``
run (of ``up`` or of pytest) left running for this project.

Credentials are per run and appear only in the environment block the user asked for (stdout, or
the ``--env-file`` written 0600); progress lines show ``host:port`` only.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

import anyio

from ._config import HarnessConfig
from ._env import read_env_file, resolve_env_map
from ._exceptions import HarnessError, ServerDiedError, describe
from ._infra import Infrastructure, reap, run_key
from ._state import RunRecord
from .backends import BACKENDS, choose
from .resources import REGISTRY, address

__all__ = ["UpOptions", "down", "environment", "format_dotenv", "format_shell", "up"]

SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
DOTENV_PLAIN = re.compile(r"[A-Za-z0-9_@%+=:,./?&#-]*\Z")
LOCK_TIMEOUT = 30.0
WATCH_INTERVAL = 0.5
"""Seconds between two looks at whether the servers still run."""
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

PASSWORDS_NOTICE = (
    "# This environment holds this run's passwords (every other output shows them as ***);\n"
    "# --env-file PATH writes it to a file only you can read instead."
)

_Say = Callable[[str], None]


@dataclass(frozen=True)
class UpOptions:
    """What ``harness up`` was asked for."""

    resources: list[str]
    env_file: Path | None = None
    """Write the ``.env`` block here (mode 0600) instead of printing credentials."""
    with_test_env: bool = False
    """Include the static test variables of ``harness_env_file`` (``.env.test``)."""


# -- the environment a service needs -----------------------------------------------------------------
def environment(
    config: HarnessConfig, urls: Mapping[str, str], with_test_env: bool
) -> dict[str, str]:
    """The variables to hand to a service: the test env file's static values (if asked) and the
    mapped live URLs (``harness_env_map``). A resource no variable is mapped to gets
    ``HARNESS_<NAME>_URL``, so every server started is reachable from the output."""
    values: dict[str, str] = {}
    if with_test_env and config.env_file is not None and config.env_file.is_file():
        values.update(read_env_file(config.env_file))
    values.update(resolve_env_map(config.env_map, urls))
    mapped = {source.partition(".")[0] for source in config.env_map.values()}
    values.update({REGISTRY[n].url_env: url for n, url in urls.items() if n not in mapped})
    return values


def format_shell(values: Mapping[str, str]) -> list[str]:
    """Lines to paste into a POSIX shell: ``export`` for names a shell accepts. No shell can
    export ``DATABASE-URL`` (``-`` is not allowed in a shell variable name), yet a process
    environment can hold it: those go into a ``with_harness_env`` function that runs a command
    through env(1) with them set."""
    lines = [f"export {k}={shlex.quote(v)}" for k, v in values.items() if SHELL_NAME.match(k)]
    others = [shlex.quote(f"{k}={v}") for k, v in values.items() if not SHELL_NAME.match(k)]
    if others:
        lines += [
            "# Names with '-' cannot be exported by a shell: run commands through this function,",
            "# e.g. `with_harness_env uvicorn app.main:app` (or use the .env block: --env-file).",
            f'with_harness_env() {{ env {" ".join(others)} "$@"; }}',
        ]
    return lines


def format_dotenv(values: Mapping[str, str]) -> list[str]:
    """``KEY=value`` lines as python-dotenv (uvicorn ``--env-file``, pydantic-settings) reads them;
    values with other characters are single-quoted (taken literally)."""
    return [
        f"{k}={v}" if DOTENV_PLAIN.match(v) and not v.startswith("#") else f"{k}='{v}'"
        for k, v in values.items()
    ]


def write_env_file(path: Path, lines: list[str]) -> None:
    """Write *lines* to *path* readable by its owner only: they hold this run's passwords."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        os.fchmod(file.fileno(), 0o600)  # an existing file keeps its mode on O_CREAT: fix it
        file.write("\n".join(lines) + "\n")


# -- up ------------------------------------------------------------------------------------------------
async def up(config: HarnessConfig, options: UpOptions, out: TextIO, err: TextIO) -> int:
    """Start, print the environment, wait for Ctrl-C/SIGTERM, stop. Returns the exit status.

    A signal during the start stops what was started so far; a failed start leaves nothing running
    (``Infrastructure.start`` undoes it) and returns 1 with the reason on *err*.
    """

    def say(line: str) -> None:
        print(line, file=err, flush=True)

    try:
        plan = [f"{name} ({choose(REGISTRY[name], config).backend})" for name in options.resources]
    except HarnessError as exc:
        say(f"harness up: cannot start: {describe(exc)}\nRun `harness doctor` for what to install.")
        return 1
    for what in await anyio.to_thread.run_sync(reap, config):  # as a test session starts
        say(f"harness: reaped {what}")
    infra = Infrastructure(config, worker="up")
    status: int | None = None
    with anyio.open_signal_receiver(*STOP_SIGNALS) as signals:
        async with anyio.create_task_group() as group:

            async def stop_on_signal() -> None:
                async for signum in signals:
                    say(f"harness up: {signal.Signals(signum).name}: stopping")
                    group.cancel_scope.cancel()
                    return

            group.start_soon(stop_on_signal)
            status = await _serve(infra, config, options, plan, out, say)
            group.cancel_scope.cancel()
    if status is None:  # stopped by a signal
        kept = " (kept running: --reuse; `harness down` stops them)" if config.reuse else ""
        say(f"harness up: stopped{kept}")
    return status or 0


async def _serve(
    infra: Infrastructure,
    config: HarnessConfig,
    options: UpOptions,
    plan: list[str],
    out: TextIO,
    say: _Say,
) -> int | None:
    """Start, publish the environment, serve until cancelled (``None``: stopped by a signal) or
    until a server dies (1: the others are stopped, whatever ``--reuse`` says)."""
    say(f"harness up: starting {', '.join(plan)}")
    try:
        await infra.start(options.resources, on_ready=lambda line: say(line.render()))
    except HarnessError as exc:
        say(f"harness up: could not start the servers:\n{describe(exc)}")
        return 1
    try:
        try:
            _publish(infra, config, options, out, say)
        except OSError as exc:  # --env-file in a missing or read-only directory
            say(f"harness up: cannot write {options.env_file}: {exc.strerror}; stopping")
            return 1
        died = await _watch(infra)
        say(f"harness up: {describe(died)}")
        others = [name for name in infra.servers if infra.dead_server([name]) is None]
        if others and config.reuse:
            say(f"harness up: keeping {', '.join(others)} (--reuse; `harness down` stops them)")
        elif others:
            say(f"harness up: stopping {', '.join(others)}")
        return 1
    finally:
        with anyio.CancelScope(shield=True):
            await infra.close()


async def _watch(infra: Infrastructure) -> ServerDiedError:
    """Sleep until a server dies (then return why); a signal cancels it first. Looking costs a
    process or container status every :data:`WATCH_INTERVAL` seconds, no client round trip."""
    while True:
        await anyio.sleep(WATCH_INTERVAL)
        died = infra.dead_server()
        if died is not None:
            return died


def _publish(
    infra: Infrastructure, config: HarnessConfig, options: UpOptions, out: TextIO, say: _Say
) -> None:
    values = environment(config, infra.urls, options.with_test_env)
    dotenv = format_dotenv(values)
    if options.env_file is not None:
        write_env_file(options.env_file, dotenv)
        say(f"harness up: wrote {len(values)} variables to {options.env_file} (mode 0600)")
    else:
        print(PASSWORDS_NOTICE, "# --- shell ---", *format_shell(values), file=out, sep="\n")
        print("# --- .env ---", *dotenv, "# --- end ---", file=out, sep="\n", flush=True)
    say(f"harness up: ready; run record {infra.record.path}. Ctrl-C or SIGTERM stops the servers.")


# -- down ----------------------------------------------------------------------------------------------
def down(config: HarnessConfig, *, force: bool = False) -> list[str]:
    """Stop this project's reused servers (the ``--reuse`` run record); return what was stopped.

    :raises HarnessError: when a process still uses them (unless *force*), naming its PIDs.
    """
    record = RunRecord(config.state_dir, run_key(replace(config, reuse=True)))
    try:
        record.lock.acquire(timeout=LOCK_TIMEOUT)
    except TimeoutError as exc:
        raise HarnessError(
            f"waited {LOCK_TIMEOUT:.0f} s for {record.lock.path}: a run is starting or stopping "
            "these servers right now. Try again when it has finished."
        ) from exc
    try:
        state = record.load()
        live = state.live_leases()
        if live and not force:
            pids = ", ".join(sorted({lease.partition(":")[0] for lease in live}))
            raise HarnessError(
                f"the reused servers are in use by PID {pids}: stop that run first "
                "(or `harness down --force` to stop them under it)."
            )
        stopped = []
        for server in state.servers.values():
            BACKENDS[server.backend].stop(server)
            where = address(server.url) if server.url else "not started"
            stopped.append(f"{server.resource} ({server.backend}, {where})")
        record.remove()
        return stopped
    finally:
        record.lock.release()
