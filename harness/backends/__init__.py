"""How a resource is provided: ``docker`` (testcontainers), ``local`` (binaries), ``external`` (URL).

``auto`` picks per resource: the external URL if set, else Docker if a daemon answers, else local
binaries, else an error that says what to install or set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .._config import HarnessConfig
from .._exceptions import BackendUnavailableError
from .._redact import remember
from ..resources import Resource
from ._base import Backend
from ._docker import DockerBackend, docker_status
from ._external import ExternalBackend
from ._local import LocalBackend

__all__ = ["BACKENDS", "Backend", "Choice", "choose", "docker_status"]

BACKENDS: dict[str, Backend] = {
    "docker": DockerBackend(),
    "local": LocalBackend(),
    "external": ExternalBackend(),
}


@dataclass(frozen=True)
class Choice:
    """The backend picked for a resource and the reason, as `harness doctor` shows it."""

    backend: str
    reason: str


def choose(resource: Resource, config: HarnessConfig) -> Choice:
    """Pick the backend for *resource* under *config* (forced or ``auto``).

    :raises BackendUnavailableError: naming every way to fix it.
    """
    forced = config.backend
    offered = resource.backends
    if forced != "auto" and forced not in offered:
        raise BackendUnavailableError(
            f"the {forced} backend was requested, but {resource.title} offers only "
            f"{', '.join(sorted(offered))}: choose one of them with --harness-backend, or "
            f"export {resource.url_env} for the external backend."
        )
    url = os.environ.get(resource.url_env)
    if url:
        remember(url)  # from now on, its password is never shown
    if forced == "external" or (forced == "auto" and url):
        if not url:
            raise BackendUnavailableError(
                f"the external backend needs {resource.url_env}: export it with the URL of a running "
                f"{resource.title} ({resource.url_scheme}://user:password@host:port/), or choose "
                "another backend with --harness-backend."
            )
        return Choice("external", f"{resource.url_env} is set")
    if forced == "docker" or (forced == "auto" and "docker" in offered):
        available, detail = docker_status()
        if available:
            return Choice("docker", f"{detail} answers")
        if forced == "docker":
            raise BackendUnavailableError(
                f"the docker backend was requested for {resource.title} but {detail}. Start the "
                "Docker daemon, or run with --harness-backend=local (binaries) or =auto."
            )
    else:
        detail = (
            "docker not considered (backend forced)"
            if forced != "auto"
            else f"{resource.title} has no docker backend"
        )
    if not hasattr(os, "killpg"):  # Windows: the local backend cannot stop what it starts
        raise BackendUnavailableError(
            f"cannot provide {resource.title}: {resource.url_env} is not set; {detail}; and the "
            "local backend does not run on this platform (it needs POSIX process groups and "
            f"signals). Start Docker (export DOCKER_HOST), or export {resource.url_env}."
        )
    binaries = resource.find_binaries()
    if binaries:
        return Choice("local", "local binaries: " + ", ".join(sorted(binaries.values())))
    raise BackendUnavailableError(
        f"cannot provide {resource.title}: {resource.url_env} is not set; {detail}; and its local "
        f"binaries are not installed. Fix one of them: install them with `{resource.install_hint}`, "
        f"start Docker, or export {resource.url_env}."
    )
