"""The interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from .._config import HarnessConfig
from ..resources import Resource, Server

__all__ = ["OnRecord", "Provider"]

OnRecord = Callable[[Server], None]
"""Called whenever a server being started gains something to clean up (a PID, a temp dir,
a container id), so a run killed at that very moment is still reaped next time."""


class Provider(ABC):
    """Starts, recognises and stops servers of any resource."""

    name: str

    @abstractmethod
    async def start(self, resource: Resource, config: HarnessConfig, on_record: OnRecord) -> Server:
        """Start (or attach to) a server and return it once it answers its real client."""

    @abstractmethod
    def alive(self, server: Server) -> bool:
        """Whether the recorded server still runs (cheap: no client round trip)."""

    @abstractmethod
    def stop(self, server: Server) -> None:
        """Stop the server and remove what it left on disk; idempotent, bounded in time."""
