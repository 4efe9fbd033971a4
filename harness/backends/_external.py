"""The external backend: servers someone else runs (CI service containers, a shared dev box).

The harness only creates and removes its own namespaces there (and what a resource prepares for
the run, like PostgreSQL's migrated template); it never stops the server.
"""

from __future__ import annotations

import logging
import os
import time

import anyio

from .._blocking import run_blocking
from .._config import HarnessConfig
from .._readiness import wait_ready
from .._redact import remember
from ..resources import REGISTRY, Resource, Server
from ._base import Backend, OnRecord

__all__ = ["ExternalBackend"]

RELEASE_TIMEOUT = 15.0
logger = logging.getLogger("harness")


class ExternalBackend(Backend):
    name = "external"
    owns_servers = False

    async def start(self, resource: Resource, config: HarnessConfig, on_record: OnRecord) -> Server:
        url = os.environ[resource.url_env]
        remember(url)
        started, wall = time.monotonic(), time.time()
        version = await wait_ready(
            lambda: resource.probe(url),
            what=f"{resource.title} at {resource.url_env}",
            timeout=config.startup_timeout,
            hint=f"check that the server runs and that {resource.url_env} has the right host, "
            "port and credentials.",
        )
        return Server(
            resource=resource.name,
            backend=self.name,
            url=url,
            version=version,
            started_at=wall,
            ready_seconds=time.monotonic() - started,
        )

    def alive(self, server: Server) -> bool:
        return True

    def stop(self, server: Server) -> None:
        """Leave the server running; remove what the run prepared on it (bounded, errors logged).

        Called where no event loop runs (a worker thread, session start, the CLI)."""
        resource = REGISTRY.get(server.resource)
        if resource is None:
            return
        self.attach(server)

        async def release() -> None:
            with anyio.fail_after(RELEASE_TIMEOUT):
                await resource.release_server(server)

        try:
            run_blocking(release)
        except Exception:
            logger.warning("harness: releasing %s failed", server.resource, exc_info=True)
