"""The interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from .._config import HarnessConfig
from .._process import ProcessRecord
from ..resources import CommandRunner, Resource, Server

__all__ = ["Backend", "OnRecord"]

OnRecord = Callable[[Server], None]
"""Called whenever a server being started gains something to clean up (a PID, a temp dir,
a container id), so a run killed at that very moment is still reaped next time."""


class Backend(ABC):
    """Starts, recognises and stops servers of any resource."""

    name: str
    owns_servers: bool = True
    """Whether stopping the server is this backend's job; when not (``external``), the harness
    drops only its own namespaces there, also those of a killed run."""

    @abstractmethod
    async def start(self, resource: Resource, config: HarnessConfig, on_record: OnRecord) -> Server:
        """Start (or attach to) a server and return it once it answers its real client."""

    @abstractmethod
    def alive(self, server: Server) -> bool:
        """Whether the recorded server still runs (cheap: no client round trip)."""

    @abstractmethod
    def stop(self, server: Server) -> None:
        """Stop the server and remove what it left on disk; idempotent, bounded in time."""

    def commands(self, server: Server) -> CommandRunner | None:
        """How to run a command where *server* runs; ``None`` where the harness cannot."""
        return None

    def process(self, server: Server) -> ProcessRecord | None:
        """The process of this machine whose end means *server* stopped, when there is one (a
        local server): the harness then watches it for free instead of asking :meth:`alive`."""
        return None

    def attach(self, server: Server) -> Backend:
        """Give a server read from a run record (or just started) its runtime parts; returns
        this backend, for chaining."""
        server.commands = self.commands(server)
        server.owned = self.owns_servers
        return self
