"""The Docker backend: testcontainers' modules with the guide's images (or ``harness_images``).

The API version is negotiated with the daemon once per process (docker-py's ``"auto"``): Docker
29+ refuses clients below API 1.44 and Debian's Docker 20.10 refuses anything above 1.41, so no
pinned version works with both. Where containers are published and reached is decided once per
process too (see ``_docker_network``).

Ryuk (testcontainers' reaper) is disabled: it removes containers when the process that started
them exits, but under xdist the last worker to finish, not the first, must stop them. The
harness's own run records reap containers of killed runs instead, by the container's recorded
name (known before it is created) and id (recorded before it is started).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import anyio
import anyio.lowlevel

from .._config import HarnessConfig
from .._exceptions import BackendUnavailableError, HarnessError, ServerStartError
from .._readiness import wait_ready
from .._redact import remember
from ..resources import CommandRunner, Resource, Server
from ._base import Backend, OnRecord
from ._docker_network import NetworkPlan, plan_network

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

__all__ = [
    "DockerBackend",
    "DockerInfo",
    "configure_container",
    "docker_client",
    "docker_info",
    "docker_status",
    "image_for",
]

T = TypeVar("T")
LABEL = "dev.harness.run"
CLIENT_TIMEOUT = 60
LOG_LINES = 30
POLL_INTERVAL = 0.25
logger = logging.getLogger("harness")


@dataclass(frozen=True)
class DockerInfo:
    """The daemon the Docker backend talks to, as ``harness doctor`` shows it."""

    version: str
    api_version: str
    """The API version negotiated with the daemon (the highest it accepts)."""
    min_api_version: str
    network: NetworkPlan

    def describe(self) -> str:
        return (
            f"Docker {self.version}, API {self.api_version} (daemon accepts "
            f"{self.min_api_version}-{self.api_version}); {self.network.describe()}"
        )


# -- the daemon ------------------------------------------------------------------------------------
@functools.cache
def docker_client() -> Any:
    """This process's ``docker.DockerClient``, its API version negotiated with the daemon.

    :raises docker.errors.DockerException: when no daemon answers.
    """
    import docker

    return docker.from_env(version="auto", timeout=CLIENT_TIMEOUT)


@functools.cache
def _probe() -> tuple[DockerInfo | None, str]:
    """The daemon's description, or ``None`` and why not (cached per process)."""
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return (
            None,
            "no Docker daemon (DOCKER_HOST is unset and /var/run/docker.sock does not exist)",
        )
    try:
        client = docker_client()
        version = client.version()
    except Exception as exc:  # any failure means "not usable": say why
        return None, f"the Docker daemon did not answer ({type(exc).__name__}: {_short(exc)})"
    try:
        plan = plan_network(client)
    except BackendUnavailableError as exc:
        return None, f"the Docker daemon answers but cannot be used: {exc}"
    info = DockerInfo(
        version=str(version.get("Version", "?")),
        api_version=str(client.api.api_version),
        min_api_version=str(version.get("MinAPIVersion", "?")),
        network=plan,
    )
    return info, f"Docker {info.version}"


def docker_status() -> tuple[bool, str]:
    """Whether a Docker daemon answers, and what to say about it either way (cached per process)."""
    info, detail = _probe()
    return info is not None, detail


def docker_info() -> DockerInfo:
    """The daemon's version, API range and connection mode (cached per process).

    :raises BackendUnavailableError: when no usable daemon answers, saying why.
    """
    info, detail = _probe()
    if info is None:
        raise BackendUnavailableError(
            f"{detail}. Start the Docker daemon (or set DOCKER_HOST), or run with "
            "--harness-backend=local."
        )
    return info


# -- containers ------------------------------------------------------------------------------------
def image_for(resource: Resource, config: HarnessConfig) -> str:
    """``HARNESS_<RESOURCE>_IMAGE``, else ``harness_images``, else the resource's default."""
    return (
        os.environ.get(f"HARNESS_{resource.name.upper()}_IMAGE")
        or config.images.get(resource.name)
        or resource.image
        or ""
    )


def configure_container(
    resource: Resource,
    config: HarnessConfig,
    secret: str,
    *,
    plan: NetworkPlan,
    api_version: str,
    name: str | None = None,
    on_created: Callable[[str], None] | None = None,
    abandoned: Callable[[], bool] = lambda: False,
) -> DockerContainer:
    """The container for *resource* (not started): ports published on the plan's address only
    (none in ``bridge_ip`` mode), labelled, and reached where the plan says.

    :param on_created: called with the container's id between create and start.
    :param abandoned: whether the start was given up (the container is then not created, or
        removed at once, and testcontainers' readiness checks stop).
    """
    from testcontainers.core.config import testcontainers_config

    from ._docker_client import HarnessDockerClient, use_client

    testcontainers_config.ryuk_disabled = True  # the harness reaps its own containers
    # The modules' own readiness checks (inside ``start()``) obey harness_startup_timeout too,
    # polling 4 times a second rather than testcontainers' once (its default bound is 120 s).
    testcontainers_config.sleep_time = POLL_INTERVAL
    testcontainers_config.max_tries = max(1, math.ceil(config.startup_timeout / POLL_INTERVAL))
    options = {"version": api_version, "timeout": CLIENT_TIMEOUT}
    container = resource.container(image_for(resource, config), secret, docker_client_kw=options)
    use_client(container, HarnessDockerClient(plan, on_created, abandoned, **options))
    for port in list(container.ports):
        if plan.publish is None:
            del container.ports[port]
        else:  # docker-py: (interface, random port)
            container.ports[port] = (plan.publish, None)  # type: ignore[assignment]
    if name is not None:
        container.with_name(name)
    return container.with_kwargs(labels={LABEL: config.rootdir.name})


def _ensure_image(client: Any, resource: Resource, image: str) -> None:
    """Pull *image* unless the daemon has it.

    :raises ServerStartError: naming the image, the daemon's reason and the three ways out.
    """
    import docker

    try:
        client.images.get(image)
        return
    except docker.errors.ImageNotFound:
        pass
    try:
        client.images.pull(image)
    except docker.errors.DockerException as exc:
        name = resource.name
        raise ServerStartError(
            f"{resource.title}: the Docker image {image} is not on this machine and pulling it "
            f"failed ({_short(exc)}). Either:\n"
            f"  - pull or load it where a registry is reachable: `docker pull {image}`, or "
            f"`docker save {image}` there and `docker load -i FILE` here;\n"
            f"  - point harness_images at an image this daemon has (`docker images`): "
            f"--harness-images {name}=IMAGE, or HARNESS_{name.upper()}_IMAGE=IMAGE;\n"
            f"  - or run without Docker: --harness-backend=local."
        ) from None


def _short(exc: BaseException, limit: int = 240) -> str:
    """The daemon's reason, one line: docker-py's ``explanation`` when it has one. The daemon
    chains causes ("driver failed ...: Error starting userland proxy: ...: bind: cannot assign
    requested address"), the root cause last: a long one keeps its end."""
    text = str(getattr(exc, "explanation", None) or exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= limit else "..." + line[-(limit - 3) :]


_abandoned: set[str] = set()
"""Names of containers whose start was given up (stopped while starting) in this process."""


async def _in_daemon_thread(func: Callable[[], T]) -> T:
    """Run blocking *func* in a daemon thread and await its result, cancellably.

    testcontainers' ``start()`` blocks until its readiness check gives up. In anyio's worker
    threads a Ctrl-C during startup kept pytest alive that long after the containers were
    removed (the interpreter waits for non-daemon threads); an abandoned start here just ends
    with the process.
    """
    token = anyio.lowlevel.current_token()
    done = anyio.Event()
    outcome: list[tuple[bool, Any]] = []

    def target() -> None:
        try:
            outcome.append((True, func()))
        except BaseException as exc:
            outcome.append((False, exc))
        with contextlib.suppress(Exception):  # the event loop is gone: nobody waits any more
            anyio.from_thread.run_sync(done.set, token=token)

    threading.Thread(target=target, name="harness-docker-start", daemon=True).start()
    await done.wait()
    ok, value = outcome[0]
    if not ok:
        raise value
    return cast(T, value)


def _logs(client: Any, container_id: str | None) -> str:
    if not container_id:
        return ""
    try:
        raw = client.api.logs(container_id, tail=LOG_LINES)
    except Exception:  # the container never existed, or is gone
        return ""
    return bytes(raw).decode(errors="replace").strip()


class DockerBackend(Backend):
    name = "docker"

    async def start(self, resource: Resource, config: HarnessConfig, on_record: OnRecord) -> Server:
        info = docker_info()
        started, wall = time.monotonic(), time.time()
        secret = secrets.token_urlsafe(18)
        remember(secret)
        image = image_for(resource, config)
        # Named (and recorded) before it exists, its id recorded before it starts: a run killed at
        # any point leaves a record the next run reaps by.
        name = f"harness-{resource.name}-{secrets.token_hex(5)}"
        server = Server(
            resource=resource.name,
            backend=self.name,
            url="",
            started_at=wall,
            container_id=name,
            extra={"container": name},
        )
        on_record(server)
        token = anyio.lowlevel.current_token()

        def created(container_id: str) -> None:
            server.container_id = container_id
            anyio.from_thread.run_sync(on_record, server, token=token)

        def run() -> str:
            client = docker_client()
            _ensure_image(client, resource, image)
            container = configure_container(
                resource,
                config,
                secret,
                plan=info.network,
                api_version=info.api_version,
                name=name,
                on_created=created,
                abandoned=lambda: name in _abandoned,
            )
            try:
                container.start()
                return resource.container_url(container, secret)
            except HarnessError:
                raise
            except Exception as exc:
                logs = _logs(client, name)
                raise _start_failure(resource, image, name, exc, logs, config) from exc

        try:
            server.url = await _in_daemon_thread(run)
            on_record(server)
            self.attach(server)
            server.version = await wait_ready(
                lambda: resource.probe(server.url),
                what=f"{resource.title} container {name} ({image})",
                timeout=config.startup_timeout,
                hint="see its log below; raise harness_startup_timeout if the machine is slow.",
            )
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                if isinstance(exc, ServerStartError):  # its log, before the container goes
                    logs = await anyio.to_thread.run_sync(_logs, docker_client(), name)
                    if logs:
                        exc.add_note(f"Last lines of `docker logs {name}`:\n{logs}")
                await anyio.to_thread.run_sync(self.stop, server)
            raise
        server.ready_seconds = time.monotonic() - started
        return server

    def alive(self, server: Server) -> bool:
        if not server.container_id:
            return False
        try:
            state = docker_client().api.inspect_container(server.container_id)["State"]
        except Exception:  # gone, or no daemon: not alive either way
            return False
        return bool(state.get("Running"))

    def commands(self, server: Server) -> CommandRunner | None:
        """Commands run inside the server's container (``docker exec``)."""

        async def run(argv: Sequence[str], *, timeout: float = 60.0) -> tuple[int, str]:
            def execute() -> tuple[int, str]:
                container = docker_client().containers.get(server.container_id)
                code, output = container.exec_run(list(argv))
                return int(code), bytes(output).decode(errors="replace")

            with anyio.fail_after(timeout):
                return await anyio.to_thread.run_sync(execute, abandon_on_cancel=True)

        return run

    def stop(self, server: Server) -> None:
        if "container" in server.extra:  # a start still running in this process gives up
            _abandoned.add(server.extra["container"])
        if not server.container_id:
            return
        import docker

        try:
            docker_client().api.remove_container(server.container_id, force=True, v=True)
        except docker.errors.NotFound:
            pass  # already gone: nothing to stop
        except Exception as exc:  # the daemon is gone or refuses: say so, never raise in teardown
            logger.warning(
                "harness: could not remove container %s (%s); remove it with `docker rm -f %s`",
                server.container_id,
                _short(exc),
                server.container_id,
            )


def _start_failure(
    resource: Resource,
    image: str,
    name: str,
    exc: BaseException,
    logs: str,
    config: HarnessConfig,
) -> ServerStartError:
    """A container that did not start, as one error: what, why, and its log."""
    what = f"{resource.title} container {name} ({image})"
    if isinstance(exc, TimeoutError):  # testcontainers' readiness check gave up
        error = ServerStartError(
            f"{what} did not answer within {config.startup_timeout:.0f} s: {_short(exc)}\n"
            "Hint: see its log below; raise harness_startup_timeout if the machine is slow."
        )
    else:
        error = ServerStartError(
            f"{what} did not start: {type(exc).__name__}: {_short(exc)}.\nHint: an image other "
            "than the official one must honour its environment variables and command (see its "
            "log below), or run with --harness-backend=local."
        )
    if logs:
        error.add_note(f"Last lines of `docker logs {name}`:\n{logs}")
    return error
