"""testcontainers' Docker client, told the harness's network plan and reporting each container the
moment it exists.

Imported only when a container is configured: testcontainers is slow to import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from testcontainers.core.config import ConnectionMode
from testcontainers.core.container import DockerContainer
from testcontainers.core.docker_client import DockerClient

from ._docker_network import NetworkPlan

__all__ = ["HarnessDockerClient", "StartAbandoned", "use_client"]

OnCreated = Callable[[str], None]


class StartAbandoned(RuntimeError):
    """Raised in the starting thread once the harness gave the start up (the container is gone)."""


class HarnessDockerClient(DockerClient):
    """Answers testcontainers' "where is the container?" from the plan instead of guessing from
    ``/.dockerenv``, joins the plan's network, and calls *on_created* with the container id
    between create and start: a start that fails, or a run killed then, leaves nothing unrecorded.
    """

    def __init__(
        self,
        plan: NetworkPlan,
        on_created: OnCreated | None = None,
        abandoned: Callable[[], bool] = lambda: False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.on_created = on_created
        self.abandoned = abandoned

    def get_connection_mode(self) -> ConnectionMode:
        # Asked on every readiness attempt: a given-up start stops polling a removed container.
        self._check()
        return ConnectionMode(self.plan.mode)

    def _check(self) -> None:
        if self.abandoned():
            raise StartAbandoned("the harness gave this container's start up")

    def host(self) -> str:
        return self.plan.host or super().host()

    def gateway_ip(self, container_id: str) -> str:
        return self.plan.host or super().gateway_ip(container_id)

    def create(self, image: str, *args: Any, **kwargs: Any) -> Any:
        if self.plan.network is not None:
            kwargs.setdefault("network", self.plan.network)
        self._check()
        container = super().create(image, *args, **kwargs)
        if self.abandoned():  # given up while the daemon created it: nobody will remove it
            container.remove(force=True, v=True)
            self._check()
        if self.on_created is not None:
            self.on_created(container.id)
        return container


def use_client(container: DockerContainer, client: HarnessDockerClient) -> None:
    """Make *container* use *client*. testcontainers has no public way to pass a client in; it
    keeps the one it builds in ``_docker`` and reads it back through ``get_docker_client()``."""
    if not isinstance(getattr(container, "_docker", None), DockerClient):
        raise RuntimeError(
            "this testcontainers version keeps its Docker client elsewhere than `_docker` (as "
            "4.15 does): the harness cannot tell it where containers are reached. Install a "
            "testcontainers version the harness supports (see pyproject.toml)."
        )
    container._docker = client
    assert container.get_docker_client() is client
