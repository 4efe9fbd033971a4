"""The Docker backend: testcontainers' modules with the guide's images.

Ryuk (testcontainers' reaper) is disabled: it removes containers when the process that started
them exits, but under xdist the last worker to finish, not the first, must stop them. The
harness's own run records reap containers of killed runs instead, as for local processes.
"""

from __future__ import annotations

import functools
import os
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from .._config import HarnessConfig
from .._readiness import wait_ready
from .._redact import remember
from ..resources import CommandRunner, Resource, Server
from ._base import Backend, OnRecord

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

__all__ = ["DockerBackend", "configure_container", "docker_status"]

LABEL = "dev.harness.run"
DOCKER_API_VERSION = os.environ.get("HARNESS_DOCKER_API_VERSION", "1.41")
"""Pinned so building a container needs no daemon round trip (docker-py's "auto" asks the daemon):
1.41 is Docker 20.10, which every supported daemon still speaks."""


@functools.cache
def docker_status() -> tuple[bool, str]:
    """Whether a Docker daemon answers, and what to say about it either way (cached per process)."""
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return (
            False,
            "no Docker daemon (DOCKER_HOST is unset and /var/run/docker.sock does not exist)",
        )
    try:
        import docker

        version = docker.from_env(timeout=3).version().get("Version", "?")
    except Exception as exc:  # any failure means "not usable": say why
        return False, f"the Docker daemon did not answer ({type(exc).__name__}: {exc})"
    return True, f"Docker {version}"


def configure_container(resource: Resource, config: HarnessConfig, secret: str) -> DockerContainer:
    """The container for *resource*: image from config, ports on 127.0.0.1 only, labelled."""
    image = (
        os.environ.get(f"HARNESS_{resource.name.upper()}_IMAGE")
        or config.images.get(resource.name)
        or resource.image
        or ""
    )
    container = resource.container(image, secret, docker_client_kw={"version": DOCKER_API_VERSION})
    for port in list(container.ports):
        container.ports[port] = ("127.0.0.1", None)  # type: ignore[assignment]  # docker-py: (interface, random port)
    return container.with_kwargs(labels={LABEL: config.rootdir.name})


class DockerBackend(Backend):
    name = "docker"

    async def start(self, resource: Resource, config: HarnessConfig, on_record: OnRecord) -> Server:
        from testcontainers.core.config import testcontainers_config

        testcontainers_config.ryuk_disabled = True
        started, wall = time.monotonic(), time.time()
        secret = secrets.token_urlsafe(18)
        remember(secret)
        container = configure_container(resource, config, secret)
        server = Server(resource=resource.name, backend=self.name, url="", started_at=wall)
        await anyio.to_thread.run_sync(container.start)
        wrapped = container.get_wrapped_container()
        server.container_id = wrapped.id
        server.url = resource.container_url(container, secret)
        on_record(server)
        self.attach(server)
        server.version = await wait_ready(
            lambda: resource.probe(server.url),
            what=f"{resource.title} container {wrapped.short_id} ({wrapped.image.tags})",
            timeout=config.startup_timeout,
            hint=f"see `docker logs {wrapped.short_id}`.",
        )
        server.ready_seconds = time.monotonic() - started
        return server

    def alive(self, server: Server) -> bool:
        try:
            import docker

            return bool(docker.from_env().containers.get(server.container_id).status == "running")
        except Exception:
            return False

    def commands(self, server: Server) -> CommandRunner | None:
        """Commands run inside the server's container (``docker exec``)."""

        async def run(argv: Sequence[str], *, timeout: float = 60.0) -> tuple[int, str]:
            import docker

            container = docker.from_env().containers.get(server.container_id)
            with anyio.fail_after(timeout):
                code, output = await anyio.to_thread.run_sync(
                    lambda: container.exec_run(list(argv)), abandon_on_cancel=True
                )
            return int(code), output.decode(errors="replace")

        return run

    def stop(self, server: Server) -> None:
        try:
            import docker

            docker.from_env().containers.get(server.container_id).remove(force=True, v=True)
        except Exception:  # already gone: nothing to stop
            pass
