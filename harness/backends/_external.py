"""The external backend: servers someone else runs (CI service containers, a shared dev box).

The harness only creates and removes its own namespaces there; it never stops the server.
"""

from __future__ import annotations

import os
import time

from .._config import HarnessConfig
from .._readiness import wait_ready
from ..resources import Resource, Server
from ._base import Backend, OnRecord

__all__ = ["ExternalBackend"]


class ExternalBackend(Backend):
    name = "external"
    owns_servers = False

    async def start(self, resource: Resource, config: HarnessConfig, on_record: OnRecord) -> Server:
        url = os.environ[resource.url_env]
        started, wall = time.monotonic(), time.time()
        version = await wait_ready(
            lambda: resource.probe(url),
            what=f"{resource.title} at {resource.url_env}",
            timeout=min(config.startup_timeout, 30.0),
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
        return None
