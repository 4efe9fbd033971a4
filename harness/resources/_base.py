"""What every kind of infrastructure provides: the interface a resource module implements.

A resource knows *what* to run (binaries, image, config), how to tell it is ready with its real
client, how to carve an isolated namespace out of a shared server, and how to open the harness's
own client. *How* it is provided (Docker, local process, external URL) is the backends' job.
"""

from __future__ import annotations

import signal
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .._process import ProcessRecord

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

    from .._config import HarnessConfig

__all__ = ["Client", "LaunchSpec", "Resource", "Server", "testcontainers_class"]

Client = tuple[Any, Callable[[], Awaitable[None]]]
"""A live client and the coroutine function that closes it."""


@dataclass
class Server:
    """A running server as recorded in the run's state file (JSON-serialisable)."""

    resource: str
    backend: str
    url: str
    version: str = ""
    processes: list[ProcessRecord] = field(default_factory=list)
    workdir: str | None = None
    container_id: str | None = None
    stop_signal: int = signal.SIGTERM
    extra: dict[str, str] = field(default_factory=dict)
    started_at: float = 0.0
    """Wall-clock time the start began (``time.time()``)."""
    ready_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Server:
        fields = dict(data)
        fields["processes"] = [ProcessRecord(**p) for p in fields.get("processes", [])]
        return cls(**fields)


@dataclass
class LaunchSpec:
    """How to run a server from local binaries, as a resource describes it."""

    argv: list[str]
    url: str
    env: dict[str, str] | None = None
    stop_signal: int = signal.SIGTERM
    extra: dict[str, str] = field(default_factory=dict)
    helpers: list[list[str]] = field(default_factory=list)
    """Processes to start (detached, recorded, stopped with the server) before the server itself."""


def testcontainers_class(module: str, name: str) -> Callable[..., DockerContainer]:
    """A testcontainers module class, from ``testcontainers.community`` where it lives now."""
    import importlib

    try:
        found: Callable[..., DockerContainer] = getattr(
            importlib.import_module(f"testcontainers.community.{module}"), name
        )
    except ImportError:  # testcontainers < 4.15
        found = getattr(importlib.import_module(f"testcontainers.{module}"), name)
    return found


class Resource(ABC):
    """One kind of infrastructure. Subclasses are small: data plus a few client calls."""

    name: ClassVar[str]
    """Short name: fixture names, env mapping sources, ``HARNESS_<NAME>_URL``."""
    title: ClassVar[str]
    """Human name for messages ("PostgreSQL")."""
    image: ClassVar[str]
    """Default Docker image (the guide's)."""
    install_hint: ClassVar[str]
    """The command that installs the local binaries."""
    url_scheme: ClassVar[str]

    @property
    def url_env(self) -> str:
        return f"HARNESS_{self.name.upper()}_URL"

    @property
    def fixtures(self) -> frozenset[str]:
        """Fixture names whose use means a test needs this resource."""
        return frozenset({self.name, f"{self.name}_url"})

    # -- local backend -------------------------------------------------------------------------
    @abstractmethod
    def find_binaries(self) -> dict[str, str] | None:
        """Paths of the binaries the local backend needs, or ``None`` if one is missing."""

    @abstractmethod
    async def prepare_local(
        self, binaries: Mapping[str, str], workdir: Path, port: int, secret: str, user: str | None
    ) -> LaunchSpec:
        """Write config into *workdir* (owned by *user*) and say how to run the server."""

    # -- docker backend ------------------------------------------------------------------------
    @abstractmethod
    def container(self, image: str, secret: str, **options: Any) -> DockerContainer:
        """The testcontainers container (not started) for *image*; *options* go to its constructor."""

    @abstractmethod
    def container_url(self, container: DockerContainer, secret: str) -> str:
        """The admin URL of a started container."""

    # -- every backend -------------------------------------------------------------------------
    @abstractmethod
    async def probe(self, url: str) -> str:
        """One real client round trip; returns the server's version. Raises if not ready."""

    async def prepare_server(self, server: Server, config: HarnessConfig) -> None:  # noqa: B027
        """Once per server, before namespaces (e.g. build the migrated template database)."""

    async def release_server(self, server: Server) -> None:  # noqa: B027
        """When the run is done with a server it does not own (external), which stays running:
        remove what :meth:`prepare_server` made there. Namespaces are dropped separately."""

    @abstractmethod
    async def create_namespace(self, server: Server, name: str) -> str:
        """Create an isolated namespace *name* on *server*; return its URL."""

    @abstractmethod
    async def drop_namespace(self, server: Server, name: str) -> None:
        """Remove namespace *name* and everything in it (idempotent)."""

    @abstractmethod
    async def connect(self, url: str) -> Client:
        """Open the harness's own client on a namespace URL."""

    def published(self, client: Any) -> dict[str, Any]:
        """What the harness's accessors expose of the client :meth:`connect` opened, by name."""
        return {self.name: client}
