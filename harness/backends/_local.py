"""The local backend: server binaries run as detached processes, one temp dir and port each."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import anyio

from .._config import HarnessConfig
from .._exceptions import BackendUnavailableError, ServerStartError
from .._process import ProcessRecord, chown_to, free_port, server_user, spawn, stop_process
from .._readiness import log_tail, wait_ready
from .._redact import remember
from ..resources import CommandRunner, Resource, Server
from ._base import Backend, OnRecord

__all__ = ["LocalBackend"]


def _servers_dir(config: HarnessConfig, user: str | None) -> Path:
    """Where server temp dirs go: under the state dir, unless the server runs as another user
    (PostgreSQL under root), who may not be able to traverse it: then a world-traversable
    (0711) dir of ours in the system temp dir."""
    base = config.state_dir / "servers"
    if user is not None:
        base = Path(tempfile.gettempdir()) / f"{config.state_dir.name}-servers"
    base.mkdir(parents=True, exist_ok=True)
    if user is not None:
        base.chmod(0o711)
    return base


PORT_ATTEMPTS = 3
PORT_CLASH = ("address already in use", "eaddrinuse", "could not bind")


class LocalBackend(Backend):
    name = "local"

    async def start(self, resource: Resource, config: HarnessConfig, on_record: OnRecord) -> Server:
        binaries = resource.find_binaries()
        if binaries is None:
            raise BackendUnavailableError(
                f"{resource.title}'s binaries are not installed: run `{resource.install_hint}`."
            )
        latest: list[Server] = []

        def record(server: Server) -> None:
            latest[:] = [server]
            on_record(server)

        attempt = 0
        while True:
            attempt += 1
            latest.clear()
            try:
                return await self._start_once(resource, binaries, config, record)
            except ServerStartError as error:
                # Another process took the free port between our check and the server's bind:
                # stop what is left and try again on another port.
                log = (
                    Path(latest[0].workdir) / "server.log" if latest and latest[0].workdir else None
                )
                clash = any(word in log_tail(log).lower() for word in PORT_CLASH)
                last = not clash or attempt == PORT_ATTEMPTS
                if latest:
                    if last:
                        _keep_or_point_to_workdir(latest[0], config, error)
                    self.stop(latest[0])
                if last:
                    raise

    async def _start_once(
        self,
        resource: Resource,
        binaries: dict[str, str],
        config: HarnessConfig,
        on_record: OnRecord,
    ) -> Server:
        started, wall = time.monotonic(), time.time()
        user = server_user() if resource.refuses_root else None
        base = _servers_dir(config, user)
        workdir = Path(tempfile.mkdtemp(prefix=f"{resource.name}-", dir=base))
        chown_to(workdir, user)
        server = Server(
            resource=resource.name, backend=self.name, url="", workdir=str(workdir), started_at=wall
        )
        on_record(server)
        port, secret = free_port(), secrets.token_urlsafe(18)
        remember(secret)
        spec = await resource.prepare_local(binaries, workdir, port, secret, user)
        log = workdir / "server.log"
        env = {**os.environ, **spec.env}
        for argv in spec.helpers:
            _, helper = spawn(argv, env=env, cwd=workdir, log_path=workdir / "helper.log")
            server.processes.append(helper)
            on_record(server)
        _, main = spawn(spec.argv, env=env, cwd=workdir, log_path=log, user=user)
        server.processes.insert(0, main)
        server.url, server.stop_signal = spec.url, spec.stop_signal
        server.extra, server.env = spec.extra, spec.env
        if user is not None:
            server.extra["user"] = user
        self.attach(server)
        on_record(server)
        server.version = await wait_ready(
            lambda: resource.probe(spec.url),
            what=f"{resource.title} ({spec.argv[0]}, port {port})",
            timeout=config.startup_timeout,
            hint="read the server's log below; raise harness_startup_timeout if the machine is slow.",
            process=main,
            log_path=log,
        )
        server.ready_seconds = time.monotonic() - started
        return server

    def alive(self, server: Server) -> bool:
        return bool(server.processes) and server.processes[0].alive()

    def process(self, server: Server) -> ProcessRecord | None:
        return server.processes[0] if server.processes else None

    def commands(self, server: Server) -> CommandRunner | None:
        """Commands run beside the server: in its dir, with its variables, as its user."""

        async def run(argv: Sequence[str], *, timeout: float = 60.0) -> tuple[int, str]:
            result = await anyio.to_thread.run_sync(
                lambda: subprocess.run(
                    list(argv),
                    env={**os.environ, **server.env},
                    cwd=server.workdir,
                    user=server.extra.get("user"),
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    stdin=subprocess.DEVNULL,
                )
            )
            return result.returncode, result.stdout + result.stderr

        return run

    def stop(self, server: Server) -> None:
        for index, record in enumerate(server.processes):
            stop_process(record, sig=server.stop_signal if index == 0 else 15)
        if server.workdir and KEEP_WORKDIR not in server.extra:
            shutil.rmtree(server.workdir, ignore_errors=True)


KEEP_WORKDIR = "keep_workdir"
"""Set in :attr:`Server.extra` of a server whose start failed under ``harness_keep_workdir``:
stopping it (now, or when a later run reaps it) leaves its directory."""


def _keep_or_point_to_workdir(server: Server, config: HarnessConfig, error: Exception) -> None:
    """A failed start: keep the server's directory if asked, else say how to (the error shows
    only the log's last lines, and the directory goes when the server is stopped)."""
    if not server.workdir:
        return
    if config.keep_workdir:
        server.extra[KEEP_WORKDIR] = "yes"
        error.add_note(
            f"Its directory is kept, with the full log (server.log): {server.workdir}. Remove it "
            "when you are done."
        )
    else:
        error.add_note(
            "To keep its directory and full log for a look, rerun with --harness-keep-workdir."
        )
