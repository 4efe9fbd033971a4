"""Where the harness reaches its containers and where it publishes their ports: one decision.

testcontainers reaches a container in one of three *connection modes*: ``docker_host`` (the
daemon's host, at the published port), ``gateway_ip`` (the container network's gateway, at the
published port) or ``bridge_ip`` (the container's own IP, at the container port). It picks one
from ``/.dockerenv`` and ``DOCKER_HOST``, while the harness publishes ports itself: when the two
disagree, readiness never succeeds (in a dev container testcontainers connects to the bridge
gateway while the ports are published on 127.0.0.1 only). So the harness decides both, from what
it sees, and tells testcontainers (through its client, see ``_docker_client``):

- not inside a container, or inside one that shares the daemon's network namespace (the bridge
  gateway is one of our own addresses): ``docker_host``, published on and reached at 127.0.0.1;
- a remote daemon (``tcp://host``): ``docker_host``, published on that host's address only;
- inside a container the daemon knows (Docker-outside-of-Docker): ``bridge_ip`` on that
  container's network, nothing published;
- inside another container: ``gateway_ip``, published on the gateway's address only.

``TESTCONTAINERS_CONNECTION_MODE`` (and ``TC_HOST``) force the mode (and host). Ports are never
published on 0.0.0.0.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast, get_args
from urllib.parse import urlsplit

import psutil

from .._exceptions import BackendUnavailableError

__all__ = ["Facts", "Mode", "NetworkPlan", "decide", "gather", "plan_network"]

Mode = Literal["docker_host", "gateway_ip", "bridge_ip"]
MODES: tuple[Mode, ...] = get_args(Mode)
LOOPBACK = "127.0.0.1"
LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
DEFAULT_NETWORK = "bridge"


@dataclass(frozen=True)
class NetworkPlan:
    """How containers are published and reached, and why."""

    mode: Mode
    forced: bool
    """Set by ``TESTCONTAINERS_CONNECTION_MODE`` / ``TC_HOST`` rather than detected."""
    host: str | None
    """The address the harness connects to; ``None`` in ``bridge_ip`` mode (each container's IP)."""
    publish: str | None
    """The address ports are published on; ``None``: nothing is published (``bridge_ip``)."""
    network: str | None
    """The network containers join; ``None``: the daemon's default."""
    reason: str

    def describe(self) -> str:
        where = self.host or "each container's own IP"
        how = "forced" if self.forced else "detected"
        return f"containers reached at {where} ({self.mode} mode, {how}: {self.reason})"


@dataclass(frozen=True)
class Facts:
    """What the decision rests on, gathered by :func:`gather` (plain data, so it is testable)."""

    forced_mode: str | None = None
    forced_host: str | None = None
    forced_address: str | None = None
    """``forced_host`` resolved to an IP address."""
    daemon_host: str | None = None
    """Host name of a ``tcp://`` or ``ssh://`` daemon; ``None`` for a local socket."""
    daemon_address: str | None = None
    in_container: bool = False
    own_addresses: frozenset[str] = frozenset()
    own_network: str | None = None
    """The network of the container we run in, when the daemon knows that container."""
    gateway: str | None = None
    """The gateway of the network containers join (``own_network``, else the default bridge)."""


def decide(facts: Facts) -> NetworkPlan:
    """The plan for *facts*.

    :raises BackendUnavailableError: for a forced mode that cannot work (unknown, or no gateway).
    """
    if facts.forced_mode:
        return _forced(facts)
    if facts.forced_host:
        publish = facts.forced_address or facts.forced_host
        return NetworkPlan("docker_host", True, facts.forced_host, publish, None, "TC_HOST is set")
    if facts.daemon_host and not _is_local(facts.daemon_host, facts):
        publish = facts.daemon_address or facts.daemon_host
        why = f"the daemon is remote ({facts.daemon_host})"
        return NetworkPlan("docker_host", False, facts.daemon_host, publish, None, why)
    if not facts.in_container:
        return NetworkPlan("docker_host", False, LOOPBACK, LOOPBACK, None, "not inside a container")
    if facts.gateway and facts.gateway in facts.own_addresses:
        why = (
            f"inside a container that shares the daemon's network (gateway {facts.gateway} is ours)"
        )
        return NetworkPlan("docker_host", False, LOOPBACK, LOOPBACK, None, why)
    if facts.own_network:
        why = f"inside a container on the daemon's network {facts.own_network}"
        return NetworkPlan("bridge_ip", False, None, None, facts.own_network, why)
    if facts.gateway:
        why = "inside a container that does not share the daemon's network"
        return NetworkPlan("gateway_ip", False, facts.gateway, facts.gateway, DEFAULT_NETWORK, why)
    why = "inside a container, but the daemon's bridge network has no gateway: assuming a shared network"
    return NetworkPlan("docker_host", False, LOOPBACK, LOOPBACK, None, why)


def _forced(facts: Facts) -> NetworkPlan:
    mode = facts.forced_mode
    if mode not in MODES:
        raise BackendUnavailableError(
            f"TESTCONTAINERS_CONNECTION_MODE is {mode!r}; use one of {', '.join(MODES)}, or unset "
            "it and let the harness detect the mode."
        )
    why = "TESTCONTAINERS_CONNECTION_MODE is set"
    network = facts.own_network or DEFAULT_NETWORK
    if mode == "docker_host":
        host = facts.forced_host or facts.daemon_host or LOOPBACK
        if host in LOCAL_NAMES:
            return NetworkPlan("docker_host", True, LOOPBACK, LOOPBACK, None, why)
        publish = facts.forced_address or facts.daemon_address or host
        return NetworkPlan("docker_host", True, host, publish, None, why)
    if mode == "bridge_ip":
        return NetworkPlan("bridge_ip", True, None, None, network, why)
    if not facts.gateway:
        raise BackendUnavailableError(
            f"TESTCONTAINERS_CONNECTION_MODE=gateway_ip, but the daemon's network {network} has no "
            "gateway address; use docker_host or bridge_ip, or unset it."
        )
    return NetworkPlan("gateway_ip", True, facts.gateway, facts.gateway, network, why)


def _is_local(host: str, facts: Facts) -> bool:
    return host in LOCAL_NAMES or (facts.daemon_address or "") in facts.own_addresses


# -- what this machine looks like ------------------------------------------------------------------
def plan_network(client: Any) -> NetworkPlan:
    """The plan for the daemon *client* (a ``docker.DockerClient``) talks to."""
    return decide(gather(client))


def gather(client: Any) -> Facts:
    """Read the environment, this machine's addresses and the daemon's networks."""
    forced_host = os.environ.get("TC_HOST") or os.environ.get("TESTCONTAINERS_HOST_OVERRIDE")
    daemon_host = _daemon_host(str(client.api.base_url))
    own = _own_addresses()
    in_container = Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()
    own_network = _own_network(client, own) if in_container else None
    return Facts(
        forced_mode=os.environ.get("TESTCONTAINERS_CONNECTION_MODE") or None,
        forced_host=forced_host,
        forced_address=_resolve(forced_host),
        daemon_host=daemon_host,
        daemon_address=_resolve(daemon_host),
        in_container=in_container,
        own_addresses=own,
        own_network=own_network,
        gateway=_gateway(client, own_network or DEFAULT_NETWORK),
    )


def _daemon_host(base_url: str) -> str | None:
    """The daemon's host name, or ``None`` for a local socket (docker-py names it ``localhost``)."""
    parts = urlsplit(base_url)
    if parts.scheme == "http+docker":  # unix socket, named pipe, or ssh (docker-py's own scheme)
        docker_host = os.environ.get("DOCKER_HOST", "")
        return urlsplit(docker_host).hostname if docker_host.startswith("ssh://") else None
    return parts.hostname


def _resolve(host: str | None) -> str | None:
    if not host:
        return None
    try:
        return str(socket.getaddrinfo(host, None, socket.AF_INET)[0][4][0])
    except (OSError, IndexError):
        return None


def _own_addresses() -> frozenset[str]:
    return frozenset(
        str(address.address).split("%")[0]
        for addresses in psutil.net_if_addrs().values()
        for address in addresses
        if address.family in (socket.AF_INET, socket.AF_INET6)
    )


def _own_network(client: Any, own: frozenset[str]) -> str | None:
    """The network of the container we run in, if the daemon runs it (Docker-outside-of-Docker):
    looked up by cgroup id and host name, and believed only if one of its IPs is ours."""
    for candidate in _own_container_ids():
        try:
            attrs = client.api.inspect_container(candidate)
        except Exception:  # not a container of this daemon
            continue
        networks = cast(dict[str, dict[str, Any]], attrs["NetworkSettings"]["Networks"] or {})
        for name, settings in networks.items():
            if settings.get("IPAddress") in own:
                return name
    return None


def _own_container_ids() -> list[str]:
    ids = []
    cgroup = Path("/proc/self/cgroup")
    if cgroup.is_file():
        for line in cgroup.read_text(encoding="utf-8").splitlines():
            path = line.rpartition(":")[2]
            if path.startswith("/docker/"):
                ids.append(path.removeprefix("/docker/"))
    return [*ids, socket.gethostname()]


def _gateway(client: Any, network: str) -> str | None:
    """The gateway of *network*: its IPAM gateway, else the subnet's first address (Docker's
    default bridge lists only its subnet)."""
    try:
        configs = client.api.inspect_network(network)["IPAM"]["Config"] or []
    except Exception:  # no such network (Podman names its own differently)
        return None
    for config in configs:
        if config.get("Gateway"):
            return str(config["Gateway"]).split("/")[0]
        try:
            subnet = ipaddress.ip_network(config.get("Subnet", ""), strict=False)
        except ValueError:
            continue
        if subnet.version == 4:
            return str(next(subnet.hosts()))
    return None
