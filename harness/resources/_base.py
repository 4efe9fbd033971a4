"""What every kind of infrastructure provides: the interface a resource module implements.

A resource knows *what* to run (binaries, image, config), how to tell it is ready with its real
client, how to carve an isolated namespace out of a shared server, how to open the harness's own
client, and how to count what a test left behind. *How* it is provided (Docker, local process,
external URL) is the backends' job; a resource offers the backends whose methods it implements.
"""

from __future__ import annotations

import signal
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from .._exceptions import HarnessError
from .._process import ProcessRecord
from .._redact import remember, scrub
from .._session import get_client

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

    from .._config import HarnessConfig

__all__ = [
    "Client",
    "CommandRunner",
    "LaunchSpec",
    "LeakCounter",
    "Resource",
    "Server",
    "testcontainers_class",
]

Client = tuple[Any, Callable[[], Awaitable[None]]]
"""A live client and the coroutine function that closes it."""


class CommandRunner(Protocol):
    """Runs a command where a server runs (beside a local process, inside its container)."""

    async def __call__(self, argv: Sequence[str], *, timeout: float = 60.0) -> tuple[int, str]:
        """Run *argv*; return its exit code and its output (stdout and stderr together)."""
        ...


@dataclass
class Server:
    """A running server as recorded in the run's state file (JSON-serialisable)."""

    resource: str
    backend: str
    url: str
    """The admin URL, credentials included (never printed: see ``address``)."""
    version: str = ""
    processes: list[ProcessRecord] = field(default_factory=list)
    workdir: str | None = None
    container_id: str | None = None
    stop_signal: int = signal.SIGTERM
    extra: dict[str, str] = field(default_factory=dict)
    """What the resource keeps about this server (a node name, the template database...)."""
    env: dict[str, str] = field(default_factory=dict)
    """Variables the server runs with (on top of the harness's own): commands run with them too."""
    started_at: float = 0.0
    """Wall-clock time the start began (``time.time()``)."""
    ready_seconds: float = 0.0
    commands: CommandRunner | None = field(default=None, repr=False, compare=False)
    """How to run a command where the server runs; ``None`` on a server the harness does not
    run (the external backend). Attached by the backend, not recorded."""
    owned: bool = field(default=True, repr=False, compare=False)
    """Whether the harness runs this server (local, docker). On one it does not own (external),
    which other runs may share, it creates only names of its own and drops only what it made.
    Attached by the backend, not recorded."""

    async def run(self, argv: Sequence[str], *, timeout: float = 60.0) -> str:
        """Run *argv* where the server runs (``rabbitmqctl``, ``psql``...); return its output.

        :raises HarnessError: when it exits non-zero (with its output), or when commands cannot
            run there (check :attr:`commands` first on a server that may be external).
        """
        if self.commands is None:
            raise HarnessError(
                f"cannot run {argv[0]} where {self.resource} runs: the {self.backend} backend "
                "gives no access to the server's host."
            )
        code, output = await self.commands(argv, timeout=timeout)
        if code != 0:
            raise HarnessError(f"{' '.join(argv)} failed ({code}): {output.strip()}")
        return output

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if f.repr and f.name != "url"
        )
        return f"Server(url={scrub(self.url)!r}, {shown})"

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _RUNTIME}
        data["processes"] = [{"pid": p.pid, "create_time": p.create_time} for p in self.processes]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Server:
        known = {f.name for f in fields(cls)} - _RUNTIME
        values = {key: value for key, value in data.items() if key in known}
        values["processes"] = [ProcessRecord(**p) for p in values.get("processes", [])]
        remember(values.get("url", ""))
        return cls(**values)


_RUNTIME = {"commands", "owned"}
"""Server fields the backend attaches at run time, not kept in the run record."""


@dataclass
class LaunchSpec:
    """How to run a server from local binaries, as a resource describes it."""

    argv: list[str]
    url: str
    env: dict[str, str] = field(default_factory=dict)
    """Variables on top of the harness's environment, for the server and for its commands."""
    stop_signal: int = signal.SIGTERM
    extra: dict[str, str] = field(default_factory=dict)
    helpers: list[list[str]] = field(default_factory=list)
    """Processes to start (detached, recorded, stopped with the server) before the server itself."""


class LeakCounter(ABC):
    """Counts what a namespace holds, so the leak check can compare before and after a test.

    Opened once per session by :meth:`Resource.open_leak_counter`; :meth:`count` runs twice per
    test, so it should cost one round trip.
    """

    @abstractmethod
    async def count(self) -> Mapping[str, int]:
        """Items per container: rows per table, documents per collection, ``{"keys": n}``."""

    async def sample(self, name: str) -> list[str]:
        """A few of the items in *name*, to show in the leak report (none by default)."""
        return []

    async def aclose(self) -> None:  # noqa: B027 (optional)
        """Close what :meth:`Resource.open_leak_counter` opened."""


def testcontainers_class(module: str, name: str) -> Callable[..., DockerContainer]:
    """A testcontainers module class, for :meth:`Resource.container`, from whichever place the
    installed testcontainers keeps it: ``testcontainers.community.<module>`` since 4.15 (without
    the deprecation warning the old place now raises), else ``testcontainers.<module>``.

    :param module: the technology's module, ``"memcached"`` for ``testcontainers.memcached``.
    :param name: the class in it, ``"MemcachedContainer"``.
    """
    import importlib
    import warnings

    # Some modules deprecate testcontainers' own helpers as they are imported (RabbitMQ's
    # `@wait_container_is_ready`, since 4.15): nothing a user can change, and a project whose
    # pytest turns warnings into errors would fail every Docker start over it.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="testcontainers")
        try:
            found: Callable[..., DockerContainer] = getattr(
                importlib.import_module(f"testcontainers.community.{module}"), name
            )
        except ImportError:  # testcontainers < 4.15
            found = getattr(importlib.import_module(f"testcontainers.{module}"), name)
    return found


class Resource(ABC):
    """One kind of infrastructure; subclass it and :func:`~harness.resources.register` it.

    Implement :meth:`probe`, :meth:`create_namespace`, :meth:`drop_namespace` and
    :meth:`connect` (every backend needs them), then the backends the kind offers:
    :meth:`find_binaries` + :meth:`prepare_local` for ``local``, :meth:`container` +
    :meth:`container_url` for ``docker``. ``external`` works with the first four alone.
    Import client libraries inside the methods, so ``import harness`` stays cheap.
    """

    name: ClassVar[str]
    """Short name: fixture names, env mapping sources, ``HARNESS_<NAME>_URL``."""
    title: ClassVar[str]
    """Human name for messages ("PostgreSQL")."""
    url_scheme: ClassVar[str]
    """The scheme of its URLs, shown in the hint for an external URL."""
    image: ClassVar[str | None] = None
    """Default Docker image; ``harness_images`` overrides it."""
    install_hint: ClassVar[str] = ""
    """The command that installs the local binaries (``doctor`` and errors show it)."""
    refuses_root: ClassVar[bool] = False
    """The server refuses to run as root: under root the local backend runs it as an
    unprivileged account (``postgres`` when it exists, else ``nobody``)."""
    leak_units: ClassVar[tuple[str, str]] = ("collection", "item")
    """How the leak report names what :meth:`LeakCounter.count` counts: (container, item)."""

    @property
    def url_env(self) -> str:
        return f"HARNESS_{self.name.upper()}_URL"

    @property
    def fixtures(self) -> frozenset[str]:
        """Fixture names whose use means a test needs this resource."""
        return frozenset({self.name, f"{self.name}_url"})

    @property
    def backends(self) -> frozenset[str]:
        """The backends this kind offers: those whose methods its class implements."""
        offered = {"external"}
        if type(self).find_binaries is not Resource.find_binaries:
            offered.add("local")
        if type(self).container is not Resource.container:
            offered.add("docker")
        return frozenset(offered)

    def client(self) -> Any:
        """This session's client of the kind (what :meth:`accessors` publishes under its name).

        :raises ResourceNotStartedError: when no test of the session asked for it.
        """
        return get_client(self.name)

    # -- local backend -------------------------------------------------------------------------
    def find_binaries(self) -> dict[str, str] | None:
        """Paths of the binaries the local backend needs, or ``None`` if one is missing."""
        return None

    async def prepare_local(
        self, binaries: Mapping[str, str], workdir: Path, port: int, secret: str, user: str | None
    ) -> LaunchSpec:
        """Write config into *workdir* (owned by *user*) and say how to run the server."""
        raise NotImplementedError(f"{self.title} has no local backend")

    def version_of(self, binaries: Mapping[str, str]) -> str:
        """The installed version, read without starting a server (``harness doctor``)."""
        return ""

    def install_steps(self) -> list[str]:
        """How to get the local binaries, one command or step each (``harness doctor``)."""
        return [self.install_hint] if self.install_hint else []

    # -- docker backend ------------------------------------------------------------------------
    def container(self, image: str, secret: str, **options: Any) -> DockerContainer:
        """The testcontainers container (not started) for *image*; *options* go to its constructor."""
        raise NotImplementedError(f"{self.title} has no docker backend")

    def container_url(self, container: DockerContainer, secret: str) -> str:
        """The admin URL of a started container."""
        raise NotImplementedError(f"{self.title} has no docker backend")

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
        """Create the isolated namespace *name* on *server*; return its URL.

        *name* is lowercase letters, digits and ``-``, unique per session and xdist worker. A
        namespace of that name that exists already is an error that touches nothing.
        """

    @abstractmethod
    async def drop_namespace(self, server: Server, name: str) -> None:
        """Remove namespace *name* and everything in it (idempotent)."""

    @abstractmethod
    async def connect(self, url: str, config: HarnessConfig) -> Client:
        """Open the harness's own client on a namespace URL."""

    def accessors(self, client: Any) -> dict[str, Any]:
        """What the harness's accessors expose of the client :meth:`connect` opened, by name."""
        return {self.name: client}

    async def open_leak_counter(self, url: str, client: Any) -> LeakCounter | None:
        """The leak check's counter for a namespace, or ``None``: no leak check for this kind."""
        return None
