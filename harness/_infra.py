"""The servers of one test session: start (or attach to) what is needed, concurrently; carve this
process's namespaces; open the harness's clients; give everything back at the end.

Used by the pytest plugin and by ``harness up`` alike, so both take the same code path.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from ._blocking import run_blocking
from ._config import HarnessConfig
from ._exceptions import (
    HarnessError,
    ServerDiedError,
    ServerStartError,
    StateDirError,
    describe,
)
from ._process import ExitWatch
from ._readiness import log_tail, wait_ready
from ._redact import scrub_exception
from ._session import HarnessSession
from ._state import RunRecord, RunState, new_lease, reap_orphans
from .backends import BACKENDS, choose
from .resources import REGISTRY, LeakCounter, Server, address

__all__ = ["Infrastructure", "StartLine", "reap", "run_key"]

CLOSE_TIMEOUT = 15.0
ASK_ALIVE_EVERY = 1.0
"""Seconds between two liveness questions to a server whose process cannot be watched (a
container): before each test, at most once per this interval."""
logger = logging.getLogger("harness")


@dataclass(frozen=True)
class StartLine:
    """What the terminal shows for one resource."""

    resource: str
    backend: str
    version: str
    address: str
    seconds: float
    how: str  # started | shared | reused

    def render(self) -> str:
        when = (
            f"ready in {self.seconds:.2f} s"
            if self.how == "started"
            else f"{self.how} (ready in {self.seconds:.2f} s)"
        )
        return f"harness: {self.resource:<9} {self.backend:<8} {self.version:<36} {self.address:<21} {when}"


def run_key(config: HarnessConfig, xdist_run: str | None = None) -> str:
    """Which run record this process joins: ``HARNESS_RUN_KEY`` if set (the harness's own tests
    join inner pytests to their session so), one per project when reusing, the xdist run id its
    workers share (*xdist_run*), else one of its own."""
    explicit = os.environ.get("HARNESS_RUN_KEY")
    if explicit:
        return explicit
    if config.reuse:
        return "reuse-" + hashlib.sha1(str(config.rootdir.resolve()).encode()).hexdigest()[:10]
    return xdist_run or uuid.uuid4().hex


class Infrastructure:
    """This process's view of the run's servers, its namespaces and its clients."""

    def __init__(
        self,
        config: HarnessConfig,
        *,
        key: str | None = None,
        worker: str | None = None,
        xdist_run: str | None = None,
        session: HarnessSession | None = None,
    ) -> None:
        self.config = config
        self.record = RunRecord(config.state_dir, key or run_key(config, xdist_run))
        self._xdist = xdist_run is not None
        self.worker = worker or "main"
        self.servers: dict[str, Server] = {}
        self.urls: dict[str, str] = {}
        """Namespace URL per resource: this process's database / vhost / index."""
        self.clients: dict[str, Any] = {}
        """The harness's own clients by accessor name (``harness.postgres()`` etc. read them
        from *session*)."""
        self.leak_counters: dict[str, LeakCounter] = {}
        """The leak check's counter per resource that has one."""
        self._session = session
        self._namespaces: dict[str, str] = {}
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._leased = False
        self._lease, self._lease_ctime = new_lease()
        self._watch = ExitWatch()
        self._unwatched: list[str] = []
        """Servers :attr:`_watch` cannot watch: asked at most every :data:`ASK_ALIVE_EVERY`."""
        self._next_ask = 0.0
        self._died = False

    # -- start ---------------------------------------------------------------------------------
    async def start(
        self, needed: Collection[str], on_ready: Callable[[StartLine], None] | None = None
    ) -> list[StartLine]:
        """Make every resource in *needed* available to this process; return the terminal lines.

        :param on_ready: called with each server's line as soon as it is ready (``harness up``
            shows progress with it), before the slower ones finish.
        :raises HarnessError: with what failed and how to fix it; nothing is left running. Any
            error, a driver's too, comes with its chain scrubbed of passwords.
        """
        try:
            return await self._start(needed, on_ready)
        except BaseException as exc:
            scrub_exception(exc)
            raise

    async def _start(
        self, needed: Collection[str], on_ready: Callable[[StartLine], None] | None
    ) -> list[StartLine]:
        names = [name for name in REGISTRY if name in needed]
        async with self._locked() as state:
            if state.failure:
                raise ServerStartError(
                    f"another worker of this run could not start the servers:\n{state.failure}"
                )
            try:
                lines = await self._ensure_servers(state, names, on_ready)
            except BaseException as exc:
                if self._xdist and isinstance(exc, HarnessError):
                    state.failure = describe(exc)  # the run's other workers fail fast with it
                    self._save_quietly(state)
                elif not state.servers and not state.live_leases():
                    self.record.remove()  # also after Ctrl-C: nothing of this run is left
                raise
            state.leases[self._lease] = self._lease_ctime
            state.reuse = self.config.reuse
            self.record.save(state)
            self._leased = True
        try:
            await self._open_namespaces(names)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.close()
            raise
        self._watch_servers()
        return lines

    def _watch_servers(self) -> None:
        for name, server in self.servers.items():
            process = BACKENDS[server.backend].process(server)
            if process is None or not self._watch.add(process):
                self._unwatched.append(name)

    async def _ensure_servers(
        self,
        state: RunState,
        names: list[str],
        on_ready: Callable[[StartLine], None] | None = None,
    ) -> list[StartLine]:
        lines: dict[str, StartLine] = {}
        to_start: list[str] = []
        for name in names:
            existing = state.servers.get(name)
            if existing is not None:
                BACKENDS[existing.backend].attach(existing)
            # Others use it: never replaced while it runs, however slow it is to answer.
            if existing is not None and await self._usable(existing, bool(state.live_leases())):
                self.servers[name] = existing
                how = "reused" if self.config.reuse else "shared"
                lines[name] = self._line(existing, how)
                if on_ready is not None:
                    on_ready(lines[name])
            else:
                if existing is not None:
                    await anyio.to_thread.run_sync(BACKENDS[existing.backend].stop, existing)
                    del state.servers[name]
                to_start.append(name)
        choices = {name: choose(REGISTRY[name], self.config) for name in to_start}

        def on_record(server: Server) -> None:
            state.servers[server.resource] = server
            self.record.save(state)

        async def start_one(name: str) -> None:
            provider = BACKENDS[choices[name].backend]
            server = await provider.start(REGISTRY[name], self.config, on_record)
            provider.attach(server)
            await REGISTRY[name].prepare_server(server, self.config)
            on_record(server)
            self.servers[name] = server
            lines[name] = self._line(server, "started")
            if on_ready is not None:
                on_ready(lines[name])

        errors: list[BaseException] = []

        async def guarded(name: str) -> None:
            try:
                await start_one(name)
            except Exception as exc:
                errors.append(exc)

        try:
            async with anyio.create_task_group() as group:
                for name in to_start:
                    group.start_soon(guarded, name)
            for name in names:
                if name not in to_start and name in self.servers:
                    await REGISTRY[name].prepare_server(self.servers[name], self.config)
                    on_record(self.servers[name])
        except BaseException as exc:  # Ctrl-C while starting: stop what this call started
            errors.append(exc)
        if errors:
            with anyio.CancelScope(shield=True):
                await self._undo(state, to_start)
            raise _combine(errors)
        return [lines[name] for name in names]

    async def _usable(self, server: Server, shared: bool = False) -> bool:
        """Whether a recorded server runs and answers. One that does not run is replaced. One
        that runs but is slow to answer is replaced after 5 s only when no other live process
        uses it; while one does (*shared*), it gets ``harness_startup_timeout``, and then this
        process fails rather than stop it under the others.

        :raises ServerStartError: a shared server that does not answer in time.
        """
        provider = BACKENDS[server.backend]
        if not provider.alive(server):
            return False
        resource = REGISTRY[server.resource]
        timeout = self.config.startup_timeout if shared else 5
        try:
            await wait_ready(
                lambda: resource.probe(server.url), what=server.resource, timeout=timeout, hint=""
            )
        except ServerStartError:
            if not shared:
                return False
            raise _unanswered_shared_server(server, timeout) from None
        return True

    async def _undo(self, state: RunState, names: list[str]) -> None:
        for name in names:
            server = state.servers.pop(name, None)
            self.servers.pop(name, None)
            if server is not None:
                await anyio.to_thread.run_sync(BACKENDS[server.backend].stop, server)
        self._save_quietly(state)

    def _save_quietly(self, state: RunState) -> None:
        """Save while failing already: a state dir that cannot be written must not hide the
        first error (the servers are stopped either way; reaping forgets what the file says)."""
        try:
            self.record.save(state)
        except StateDirError:
            logger.warning("harness: could not update %s", self.record.path, exc_info=True)

    async def _open_namespaces(self, names: list[str]) -> None:
        prefix = _namespace_prefix(self.worker)

        async def open_one(name: str) -> None:
            resource, server = REGISTRY[name], self.servers[name]
            namespace = f"{prefix}-{name}"
            url = await resource.create_namespace(server, namespace)
            # Recorded once created: a name that clashed is someone else's, never to be dropped.
            self._namespaces[name] = namespace
            client, close = await resource.connect(url, self.config)
            self._closers.append(close)
            counter = await resource.open_leak_counter(url, client)
            if counter is not None:
                self.leak_counters[name] = counter
                self._closers.append(counter.aclose)
            published = resource.accessors(client)
            self.clients.update(published)
            if self._session is not None:
                self._session.clients.update(published)
            self.urls[name] = url

        errors: list[BaseException] = []

        async def guarded(name: str) -> None:
            try:
                await open_one(name)
            except Exception as exc:  # raised as itself, not in an exception group
                errors.append(exc)

        async with anyio.create_task_group() as group:
            for name in names:
                group.start_soon(guarded, name)
        if errors:
            raise _combine(errors)
        async with self._locked() as state:
            state.namespaces += [
                {"resource": r, "name": n, "lease": self._lease}
                for r, n in self._namespaces.items()
            ]
            self.record.save(state)

    # -- during the run --------------------------------------------------------------------------
    def check_still_alive(self) -> None:
        """Before each test: :meth:`check_alive` for every server, only when one may have died.

        Free while they run: the processes of local servers are watched (one ``poll(2)`` for
        all, no ``/proc`` reads); a server whose process cannot be watched (a container) is
        asked at most once every :data:`ASK_ALIVE_EVERY` seconds.

        :raises ServerDiedError: naming the server and what to do.
        """
        if self._died or self._watch.exited():
            self.check_alive(self.servers)
        elif self._unwatched and (now := time.monotonic()) >= self._next_ask:
            self._next_ask = now + ASK_ALIVE_EVERY
            self.check_alive(self._unwatched)

    def check_alive(self, names: Collection[str]) -> None:
        """Fail fast, with the server's log, when a server this session uses has died.

        :raises ServerDiedError: naming the server and what to do.
        """
        error = self.dead_server(names)
        if error is not None:
            raise error

    def may_have_died(self, names: Collection[str]) -> ServerDiedError | None:
        """:meth:`dead_server` for *names*, asked only when one may have died: free for
        watched processes that still run."""
        if self._died or self._watch.exited() or any(n in self._unwatched for n in names):
            return self.dead_server(names)
        return None

    def dead_server(self, names: Collection[str] | None = None) -> ServerDiedError | None:
        """The error for the first server of *names* (default: all) that is no longer running,
        or ``None``. Cheap: a process or container status, no client round trip."""
        for name in self.servers if names is None else names:
            server = self.servers.get(name)
            if server is None or BACKENDS[server.backend].alive(server):
                continue
            self._died = True
            log = Path(server.workdir) / "server.log" if server.workdir else None
            error = ServerDiedError(
                f"{REGISTRY[name].title} ({server.backend}, {address(server.url)}) stopped during the "
                "run: nothing can use it any more. Rerun, and check the machine's memory and disk "
                "if it happens again."
            )
            tail = log_tail(log)
            if tail:
                error.add_note(f"Last lines of the server's log:\n{tail}")
            return error
        return None

    # -- end -------------------------------------------------------------------------------------
    async def close(self) -> None:
        """Close clients, drop this process's namespaces, give back the lease; the last lease
        stops the servers (unless reused). Bounded and shielded: always finishes."""
        self._watch.close()
        with anyio.CancelScope(shield=True):
            for close in reversed(self._closers):
                with anyio.move_on_after(CLOSE_TIMEOUT):
                    await _logged(close(), "closing a client")
            self._closers.clear()
            if self._session is not None:
                for published in self.clients:
                    self._session.clients.pop(published, None)
            self.clients.clear()
            self.leak_counters.clear()
            for name in list(self._namespaces):
                server = self.servers.get(name)
                if server is not None and BACKENDS[server.backend].alive(server):
                    with anyio.move_on_after(CLOSE_TIMEOUT):
                        drop = REGISTRY[name].drop_namespace(server, self._namespaces[name])
                        await _logged(drop, f"dropping {name} namespace {self._namespaces[name]}")
            if self._leased:
                async with self._locked() as state:
                    await anyio.to_thread.run_sync(self._release, state)

    def release_now(self) -> None:
        """Give back the lease without the event loop: the last resort when :meth:`close` could
        not run (a Ctrl-C inside a test breaks anyio's runner, so async teardown never happens).
        Servers are stopped as usual; namespaces on external servers are left (logged)."""
        self._watch.close()
        if not self._leased:
            return
        if self._namespaces:
            logger.warning("harness: namespaces left on shared servers: %s", self._namespaces)
        with self.record.lock.held(timeout=2 * self.config.startup_timeout + 60):
            self._release(self.record.load())

    def _release(self, state: RunState) -> None:
        state.leases.pop(self._lease, None)
        state.namespaces = [n for n in state.namespaces if n.get("lease") != self._lease]
        self._leased = False
        self._namespaces.clear()
        live = state.live_leases()
        keep = state.reuse or bool(live)
        _drop_orphaned_namespaces(state, live, servers_stay=keep)
        if keep:
            self.record.save(state)
            return
        for server in state.servers.values():
            BACKENDS[server.backend].stop(server)
        self.record.remove()

    @asynccontextmanager
    async def _locked(self) -> AsyncIterator[RunState]:
        timeout = 2 * self.config.startup_timeout + 60
        try:
            await anyio.to_thread.run_sync(lambda: self.record.lock.acquire(timeout=timeout))
        except TimeoutError as exc:
            raise HarnessError(
                f"waited {timeout:.0f} s for the run lock {self.record.lock.path}: another "
                "process of this run holds it while it starts or stops the servers. Wait for it "
                "to finish, or stop it (the lock of a process that died never blocks)."
            ) from exc
        try:
            yield self.record.load()
        finally:
            self.record.lock.release()

    def _line(self, server: Server, how: str) -> StartLine:
        return StartLine(
            server.resource,
            server.backend,
            server.version,
            address(server.url),
            server.ready_seconds,
            how,
        )


def _unanswered_shared_server(server: Server, timeout: float) -> ServerStartError:
    return ServerStartError(
        f"{REGISTRY[server.resource].title} ({server.backend}, {address(server.url)}) is used by "
        f"other pytest processes of this run but did not answer within {timeout:g} s: it is left "
        "running for them.\nHint: the machine is probably overloaded: run fewer processes at once "
        "(-n), or raise harness_startup_timeout."
    )


def reap(config: HarnessConfig, skip: str = "") -> list[str]:
    """Reap orphaned runs under *config*'s state dir; return what was stopped.

    The state dir is shared by every project of the user: a run whose external server is of a
    kind this process has not registered (another project's own kind) is left for a run of that
    project, which can drop its namespaces there. Servers the harness runs are stopped by PID or
    container, whatever their kind.
    """

    def stop(server: Server, namespaces: list[str]) -> None:
        backend = BACKENDS[server.backend].attach(server)
        if namespaces and not backend.owns_servers:
            # Called where no event loop runs (session start, or a worker thread): its own loop.
            run_blocking(_drop_namespaces, server, namespaces)
        backend.stop(server)

    def reapable(server: Server) -> bool:
        return server.resource in REGISTRY or BACKENDS[server.backend].owns_servers

    return reap_orphans(
        config.state_dir,
        skip=skip,
        stop=stop,
        alive=lambda s: BACKENDS[s.backend].alive(s),
        reapable=reapable,
    )


def _drop_orphaned_namespaces(state: RunState, live: list[str], *, servers_stay: bool) -> None:
    """Drop the namespaces of lease holders that died (a crashed xdist worker) and forget them.

    Reaping never sees a run whose other processes finished it cleanly, so the last one out
    does it: on servers that stay (external, or reused), where they would pile up. Servers
    about to be stopped take them along.
    """
    orphaned = [n for n in state.namespaces if n.get("lease") not in live]
    state.namespaces = [n for n in state.namespaces if n.get("lease") in live]
    for server in state.servers.values():
        backend = BACKENDS[server.backend].attach(server)
        names = [n["name"] for n in orphaned if n.get("resource") == server.resource]
        if names and (servers_stay or not backend.owns_servers) and backend.alive(server):
            run_blocking(_drop_namespaces, server, names)


async def _drop_namespaces(server: Server, namespaces: list[str]) -> None:
    """A killed run's databases / vhosts / indexes / Mongo databases on a server that stays."""
    for name in namespaces:
        with anyio.move_on_after(CLOSE_TIMEOUT):
            await _logged(
                REGISTRY[server.resource].drop_namespace(server, name), f"dropping {name}"
            )


async def _logged(step: Awaitable[None], what: str) -> None:
    """Run a teardown step; a failure is logged, never allowed to keep the servers running."""
    try:
        await step
    except Exception:
        logger.warning("harness: %s failed", what, exc_info=True)


def _namespace_prefix(worker: str) -> str:
    """``h<random>-<worker>``: unique per process; lowercase letters, digits and ``-`` only, so
    the names (``h1a2b3c-gw0-postgres``) are valid as a database, a vhost, a Mongo database, a
    bucket or a topic prefix."""
    return f"h{secrets.token_hex(3)}-{re.sub(r'[^a-z0-9]', '', worker.lower())}"


def _combine(errors: list[BaseException]) -> BaseException:
    """One error to raise: the only one, a Ctrl-C as itself, or all messages together."""
    interrupt = next((e for e in errors if not isinstance(e, Exception)), None)
    if len(errors) == 1 or interrupt is not None:
        return interrupt or errors[0]
    message = "\n\n".join(f"- {describe(e)}" for e in errors)  # with each one's log lines
    return HarnessError(f"{len(errors)} resources failed to start:\n{message}")
