"""RabbitMQ: a vhost per session/worker on one broker.

A local node runs isolated in its temp dir: own node name, ports, mnesia, logs, cookie (HOME) and
its own epmd on a private port, started (and stopped) by the harness so none is left behind.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

import anyio

from .._binaries import HOMEBREW, install_hint, search_dirs, which_all
from .._exceptions import HarnessError
from .._process import first_line, free_port
from .._urls import address, with_path
from ._base import Client, LaunchSpec, Resource, Server, testcontainers_class

if TYPE_CHECKING:
    import httpx
    from testcontainers.core.container import DockerContainer

    from .._config import HarnessConfig

__all__ = ["RabbitMQResource"]

USER = "harness"
SBIN = "/usr/lib/rabbitmq/bin"  # runs as the calling user (/usr/sbin's wrapper switches users)


class RabbitMQResource(Resource):
    name = "rabbitmq"
    title = "RabbitMQ"
    image = "rabbitmq:3.13-alpine"
    install_hint = install_hint(
        apt="apt-get install rabbitmq-server",
        brew="brew install rabbitmq",
        url_env="HARNESS_RABBITMQ_URL",
    )
    url_scheme = "amqp"

    def find_binaries(self) -> dict[str, str] | None:
        # Debian's /usr/lib/rabbitmq/bin runs as the calling user (/usr/sbin's wrapper switches
        # to the rabbitmq user); Homebrew puts the scripts in sbin.
        dirs = [SBIN, *search_dirs(*(f"{prefix}/sbin" for prefix in HOMEBREW))]
        found = which_all(("rabbitmq-server", "rabbitmqctl"), dirs)
        epmd = which_all(("epmd",), [SBIN, *search_dirs(*(f"{p}/bin" for p in HOMEBREW))])
        return {**found, **epmd} if found and epmd else None

    def version_of(self, binaries: Mapping[str, str]) -> str:
        return _installed_version(binaries["rabbitmq-server"])

    async def prepare_local(
        self, binaries: Mapping[str, str], workdir: Path, port: int, secret: str, user: str | None
    ) -> LaunchSpec:
        dist_port, epmd_port = free_port(), free_port()
        node = f"harness-{port}@localhost"
        (workdir / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{port}\n"
            f"default_user = {USER}\ndefault_pass = {secret}\n"
            "loopback_users = none\n"
            "log.console = true\nlog.console.level = warning\nlog.file = false\n",
            encoding="utf-8",
        )
        (workdir / "enabled_plugins").write_text("[].\n", encoding="utf-8")
        env = {
            **node_env(workdir, node, epmd_port, binaries["rabbitmqctl"]),
            "RABBITMQ_NODE_PORT": str(port),
            "RABBITMQ_DIST_PORT": str(dist_port),
            "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(workdir / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(workdir / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(workdir / "rabbitmq"),
            "RABBITMQ_PID_FILE": str(workdir / "rabbitmq.pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }
        return LaunchSpec(
            argv=[binaries["rabbitmq-server"]],
            env=env,
            url=f"amqp://{USER}:{secret}@127.0.0.1:{port}/",
            extra={"node": node, "epmd_port": str(epmd_port)},
            helpers=[[binaries["epmd"], "-port", str(epmd_port), "-address", "127.0.0.1"]],
        )

    def container(self, image: str, secret: str, **options: Any) -> DockerContainer:
        container_class = testcontainers_class("rabbitmq", "RabbitMqContainer")

        return container_class(image, **options, username=USER, password=secret)

    def container_url(self, container: DockerContainer, secret: str) -> str:
        host = container.get_container_host_ip()
        return f"amqp://{USER}:{secret}@{host}:{container.get_exposed_port(5672)}/"

    async def probe(self, url: str) -> str:
        parts = urlsplit(url)
        # A plain TCP connect first: while the port is closed, aiormq would log an ERROR per try.
        stream = await anyio.connect_tcp(parts.hostname or "127.0.0.1", parts.port or 5672)
        await stream.aclose()
        import aio_pika

        connection = await aio_pika.connect(url, timeout=5)
        try:
            props = (
                connection.transport.connection.server_properties if connection.transport else {}
            )
            version = props.get("version", "")
        finally:
            await connection.close()
        return f"RabbitMQ {version.decode() if isinstance(version, bytes) else version}"

    async def prepare_server(self, server: Server, config: HarnessConfig) -> None:
        if server.commands is None:  # recorded: `harness reap` may run without the variable
            server.extra.setdefault("management_url", _management_url(server.url))

    async def create_namespace(self, server: Server, name: str) -> str:
        user = unquote(urlsplit(server.url).username or USER)
        if server.commands is None:  # a broker the harness does not run: its HTTP API
            await _management_add_vhost(server, name, user)
            return with_path(server.url, name)
        outcome = await _evaluate(server, _ADD_VHOST, name, user)
        if outcome == "exists":
            raise _vhost_exists(server, name)
        if outcome != "created":  # a name that needs quoting, or another internal API
            await server.run(["rabbitmqctl", "-q", "add_vhost", name])
            await server.run(
                ["rabbitmqctl", "-q", "set_permissions", "-p", name, user, ".*", ".*", ".*"]
            )
        return with_path(server.url, name)

    async def drop_namespace(self, server: Server, name: str) -> None:
        if server.commands is None:
            async with _management_client(server) as api:
                await _management_call(api, "DELETE", f"/api/vhosts/{quote(name, safe='')}")
            return
        user = unquote(urlsplit(server.url).username or USER)
        if await _evaluate(server, _DELETE_VHOST, name, user) in ("deleted", "absent"):
            return
        try:
            await server.run(["rabbitmqctl", "-q", "delete_vhost", name])
        except HarnessError as exc:
            if not _missing(str(exc)):
                raise

    async def connect(self, url: str, config: HarnessConfig) -> Client:
        import aio_pika

        connection = await aio_pika.connect_robust(url, timeout=10)
        channel = await connection.channel()

        async def close() -> None:
            await connection.close()

        return (connection, channel), close

    def accessors(self, client: Any) -> dict[str, Any]:
        connection, channel = client
        return {"rabbitmq": channel, "rabbitmq_connection": connection}


def node_env(workdir: Path, node: str, epmd_port: int, rabbitmqctl: str) -> dict[str, str]:
    """What a node and its rabbitmqctl share: name, cookie location, private epmd, and a PATH
    that finds Debian's rabbitmqctl (it is not on the default PATH)."""
    path = os.pathsep.join([str(Path(rabbitmqctl).parent), os.environ.get("PATH", "")])
    return {
        "HOME": str(workdir),
        "PATH": path,
        "RABBITMQ_NODENAME": node,
        "ERL_EPMD_PORT": str(epmd_port),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
    }


def _missing(output: str) -> bool:
    return "not found" in output.lower() or "does not exist" in output.lower()


_ADD_VHOST = """
case rabbit_vhost:exists(V) of
  true -> exists;
  false ->
    ok = rabbit_vhost:add(V, U),
    ok = rabbit_auth_backend_internal:set_permissions(U, V, <<".*">>, <<".*">>, <<".*">>, U),
    created
end.
"""
"""Create vhost ``V`` and grant ``U`` on it; a vhost that exists is left as it is (``exists``)."""

_DELETE_VHOST = """
case rabbit_vhost:exists(V) of
  true -> ok = rabbit_vhost:delete(V, U), deleted;
  false -> absent
end.
"""


async def _evaluate(server: Server, expression: str, vhost: str, user: str) -> str | None:
    """Evaluate *expression* (with ``V`` = *vhost* and ``U`` = *user*) on the broker's Erlang node
    and return the atom it gives; ``None`` when it could not be (a name that would need quoting,
    or a RabbitMQ whose internal API differs from 3.10-3.13's): the caller then uses the plain
    ``rabbitmqctl`` commands.

    On a node the harness runs locally this goes through ``erl_call`` (a small C client of the
    Erlang distribution, shipped with Erlang: ~3 ms of CPU), else one ``rabbitmqctl eval``, which
    boots an Erlang VM (~1 s of CPU): this runs once per session or xdist worker, and again to
    drop the vhost.
    """
    if not (re.fullmatch(r"[\w.-]+", vhost) and re.fullmatch(r"[\w.-]+", user)):
        return None
    bound = f'V = <<"{vhost}">>, U = <<"{user}">>, {expression.strip()}'
    found = await _erl_call(server, bound)
    if found is not None:
        return found
    try:
        return (await server.run(["rabbitmqctl", "-q", "eval", bound])).strip()
    except HarnessError:
        return None


async def _erl_call(server: Server, expression: str) -> str | None:
    """*expression*'s value through ``erl_call`` on a local node (its name, cookie and epmd port
    are in the server's recorded variables); ``None`` where erl_call cannot be used."""
    node = server.extra.get("node")
    erl_call = shutil.which("erl_call", path=server.env.get("PATH")) if node else None
    if node is None or erl_call is None:
        return None
    # erl_call -e reads the expression from stdin; a command runs with no stdin: sh feeds it.
    script = 'printf "%s\\n" "$2" | exec "$0" -n "$1" -e'
    try:
        output = await server.run(["sh", "-c", script, erl_call, node, expression], timeout=30)
    except HarnessError:
        return None
    found = re.fullmatch(r"\{ok,\s*(\w+)\}", output.strip())
    return found.group(1) if found else None


def _management_url(url: str) -> str:
    return (
        os.environ.get("HARNESS_RABBITMQ_MANAGEMENT_URL")
        or f"http://{urlsplit(url).hostname}:15672"
    )


def _management_client(server: Server) -> httpx.AsyncClient:
    """The management HTTP API of a broker the harness does not run, as the URL's user."""
    import httpx

    parts = urlsplit(server.url)
    base = server.extra.get("management_url") or _management_url(server.url)
    auth = (unquote(parts.username or ""), unquote(parts.password or ""))
    return httpx.AsyncClient(base_url=base, auth=auth, timeout=10)


async def _management_add_vhost(server: Server, vhost: str, user: str) -> None:
    """Create *vhost* and grant *user* on it; a vhost that exists is an error touching nothing.

    The API's PUT creates or updates: a GET first refuses an existing vhost, and the PUT's
    status (201 created, 204 existed) catches one created in between.
    """
    path = f"/api/vhosts/{quote(vhost, safe='')}"
    async with _management_client(server) as api:
        existing = await api.get(path)
        if existing.status_code != 404:
            _raise_for(existing, api)
            raise _vhost_exists(server, vhost)
        if (await _management_call(api, "PUT", path)).status_code != 201:
            raise _vhost_exists(server, vhost)
        body = {"configure": ".*", "write": ".*", "read": ".*"}
        grant = f"/api/permissions/{quote(vhost, safe='')}/{quote(user, safe='')}"
        try:
            await _management_call(api, "PUT", grant, body)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await api.delete(path)  # ours: created just now
            raise


def _vhost_exists(server: Server, vhost: str) -> HarnessError:
    return HarnessError(
        f"RabbitMQ vhost {vhost} already exists on {address(server.url)}: the harness creates a "
        "vhost of its own per session and never drops or changes what it did not create. If it "
        "is a leftover of a killed run, `python -m harness reap` drops it (or delete it "
        "yourself); otherwise rerun, the next name is random."
    )


async def _management_call(
    api: httpx.AsyncClient, method: str, path: str, body: dict[str, str] | None = None
) -> httpx.Response:
    """One API call; a 404 on DELETE means gone already (dropping is idempotent)."""
    response = await api.request(method, path, json=body)
    if not (method == "DELETE" and response.status_code == 404):
        _raise_for(response, api)
    return response


def _raise_for(response: httpx.Response, api: httpx.AsyncClient) -> None:
    if response.is_error:
        raise HarnessError(
            f"RabbitMQ management API {response.request.method} {response.request.url.path} "
            f"answered {response.status_code}: {response.text[:200]}. The external backend "
            "needs the management plugin and a user tagged `administrator` in "
            "HARNESS_RABBITMQ_URL; set HARNESS_RABBITMQ_MANAGEMENT_URL if the API is not at "
            f"{api.base_url}."
        )


def _installed_version(path: str) -> str:
    """RabbitMQ's version without booting Erlang (``rabbitmqctl version`` takes seconds): the
    ``vsn`` of the installed ``rabbit.app``, else the Debian package version."""
    root = Path(os.path.realpath(path)).parent.parent  # .../rabbitmq_server-X/sbin/rabbitmq-server
    version = ""
    for app in sorted(glob.glob(str(root / "plugins" / "rabbit-*" / "ebin" / "rabbit.app"))):
        found = re.search(r'\{vsn,\s*"([^"]+)"\}', Path(app).read_text(errors="replace"))
        version = found.group(1) if found else version
    if not version and shutil.which("dpkg-query"):
        version = first_line(["dpkg-query", "-W", "-f=${Version}", "rabbitmq-server"])
    erlang = _erlang_version()
    return " ".join(
        part
        for part in (f"RabbitMQ {version}" if version else "", erlang and f"({erlang})")
        if part
    )


def _erlang_version() -> str:
    erl = shutil.which("erl")
    if erl is None:
        return ""
    releases = Path(os.path.realpath(erl)).parent.parent / "releases"
    for otp in sorted(releases.glob("*/OTP_VERSION"), reverse=True):
        return f"Erlang/OTP {otp.read_text().strip()}"
    return ""
