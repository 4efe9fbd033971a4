"""MongoDB: a database per session/worker. Locally a real ``mongod`` when one is on PATH, else
FerretDB v1 (MongoDB wire protocol on SQLite, telemetry off, state in the temp dir)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import anyio

from .._binaries import HOMEBREW, search_dirs, which_all
from .._exceptions import BackendUnavailableError, HarnessError
from .._ferretdb_build import SOURCE as FERRETDB_SOURCE
from .._ferretdb_build import ferretdb_binary
from .._process import first_line
from .._urls import address, with_path
from ._base import Client, LaunchSpec, LeakCounter, Resource, Server, testcontainers_class

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

    from .._config import HarnessConfig

__all__ = ["MongoResource"]

USER = "harness"


class MongoResource(Resource):
    name = "mongo"
    title = "MongoDB"
    image = "mongo:7"
    install_hint = (
        "make setup  (builds FerretDB with Go), or put mongod on PATH, or set HARNESS_MONGO_URL"
    )
    url_scheme = "mongodb"
    leak_units = ("collection", "document")

    def find_binaries(self) -> dict[str, str] | None:
        mongod = which_all(("mongod",), search_dirs(*(f"{p}/bin" for p in HOMEBREW)))
        if mongod:
            return mongod
        ferretdb = ferretdb_binary()
        return {"ferretdb": str(ferretdb)} if ferretdb else None

    def version_of(self, binaries: Mapping[str, str]) -> str:
        if "mongod" in binaries:
            return first_line([binaries["mongod"], "--version"])
        # The harness's FerretDB build has no --version: the module version its go.mod pins.
        gomod = (FERRETDB_SOURCE / "go.mod").read_text(encoding="utf-8")
        found = re.search(r"github\.com/FerretDB/FerretDB (v\S+)", gomod)
        return f"FerretDB {found.group(1)} (harness build)" if found else "FerretDB (harness build)"

    def install_steps(self) -> list[str]:
        steps = ["python -m harness build-ferretdb  (builds FerretDB; `make setup` does it too)"]
        if shutil.which("go") is None:
            steps.append(
                "  it needs Go first: apt-get install golang-go, or see https://go.dev/dl/"
            )
        return [*steps, "or put a real `mongod` on PATH, or export HARNESS_MONGO_URL"]

    async def prepare_local(
        self, binaries: Mapping[str, str], workdir: Path, port: int, secret: str, user: str | None
    ) -> LaunchSpec:
        data = workdir / "data"
        data.mkdir()
        if "mongod" in binaries:
            argv = [binaries["mongod"], "--port", str(port), "--bind_ip", "127.0.0.1"]
            argv += [
                "--dbpath",
                str(data),
                "--nounixsocket",
                "--quiet",
                "--setParameter",
                "diagnosticDataCollectionEnabled=false",
            ]
        else:
            argv = [
                binaries["ferretdb"],
                "-listen-addr",
                f"127.0.0.1:{port}",
                "-sqlite-dir",
                str(data),
            ]
        # Bound to 127.0.0.1 and without accounts: FerretDB's SQLite backend has no auth.
        return LaunchSpec(argv=argv, url=f"mongodb://127.0.0.1:{port}/")

    def container(self, image: str, secret: str, **options: Any) -> DockerContainer:
        container_class = testcontainers_class("mongodb", "MongoDbContainer")

        return container_class(image, **options, username=USER, password=secret)

    def container_url(self, container: DockerContainer, secret: str) -> str:
        host = container.get_container_host_ip()
        port = container.get_exposed_port(27017)
        url = f"mongodb://{USER}:{secret}@{host}:{port}/?authSource=admin"
        # FerretDB v1 without its experimental SCRAM support offers only PLAIN (and checks no
        # password); drivers would pick SCRAM and be refused. Use what the server offers.
        return url + "&authMechanism=PLAIN" if _offers_only_plain(host, port) else url

    async def probe(self, url: str) -> str:
        client, close = _open(url, "auto", timeout_ms=2000)
        try:
            info = await client.admin.command("buildInfo")
        finally:
            await close()
        version = f"MongoDB {info.get('version', '')}"
        if "ferretdb" in info:
            version += f" (FerretDB {info['ferretdb'].get('version', '')})"
        return version

    async def create_namespace(self, server: Server, name: str) -> str:
        """Name database *name* (it exists once written to): never one that exists already."""
        client, close = _open(server.url, "auto")
        try:
            existing = await client.list_database_names()
        finally:
            await close()
        if unquote(name) in existing:
            raise HarnessError(
                f"MongoDB database {name} already exists on {address(server.url)}: the harness "
                "uses a database of its own per session and never drops or changes what it did "
                "not create. If it is a leftover of a killed run, `python -m harness reap` drops "
                "it (or drop it yourself); otherwise rerun, the next name is random."
            )
        return with_path(server.url, name)

    async def drop_namespace(self, server: Server, name: str) -> None:
        client, close = _open(server.url, "auto")
        try:
            await client.drop_database(unquote(name))
        finally:
            await close()

    async def connect(self, url: str, config: HarnessConfig) -> Client:
        client, close = _open(url, config.mongo_driver)
        return client[unquote(urlsplit(url).path.lstrip("/"))], close

    async def open_leak_counter(self, url: str, client: Any) -> LeakCounter:
        return DocumentCounter(client)


class DocumentCounter(LeakCounter):
    """Documents per collection (``system.*`` excluded): the list of collections, then each
    collection's count from its storage statistics (``$collStats``), concurrently.

    Not ``estimated_document_count``: on FerretDB (SQLite) that counts by reading every
    document (~45 ms for 1,000), where ``$collStats`` reads the table's page statistics (~1.5 ms
    whatever the size); on MongoDB both read the same collection metadata.
    """

    def __init__(self, database: Any) -> None:
        self._database = database

    async def count(self) -> dict[str, int]:
        counts: dict[str, int] = {}

        async def count_one(name: str) -> None:
            found = await _stored_count(self._database, name)
            if found is not None:
                counts[name] = found

        async with anyio.create_task_group() as group:
            for name in await self._database.list_collection_names():
                if not name.startswith("system."):
                    group.start_soon(count_one, name)
        return counts


_COUNT_STAGE: list[dict[str, Any]] = [{"$collStats": {"count": {}}}]


async def _stored_count(database: Any, collection: str) -> int | None:
    """Documents in *collection* from its storage statistics; ``None`` if it is gone (dropped
    since it was listed) or has none (a view)."""
    from pymongo.errors import OperationFailure

    try:
        reply = await database.command(
            {"aggregate": collection, "pipeline": _COUNT_STAGE, "cursor": {}}
        )
    except OperationFailure as exc:
        if exc.code in (_NAMESPACE_NOT_FOUND, _VIEW_NOT_SUPPORTED):
            return None
        raise
    batch = [stats for stats in reply["cursor"]["firstBatch"] if "count" in stats]
    return sum(int(stats["count"]) for stats in batch) if batch else None  # one per shard


_NAMESPACE_NOT_FOUND = 26
_VIEW_NOT_SUPPORTED = 166  # CommandNotSupportedOnView


def driver(choice: str) -> str:
    """The driver *choice* (``auto``, ``pymongo``, ``motor``) means here: ``auto`` takes PyMongo's
    async API when the installed pymongo has it, else motor.

    :raises BackendUnavailableError: when the chosen driver is not installed, saying what to install.
    """
    if choice in ("auto", "pymongo"):
        try:
            from pymongo import AsyncMongoClient  # noqa: F401
        except ImportError:
            if choice == "pymongo":
                raise BackendUnavailableError(
                    "harness_mongo_driver is 'pymongo' but the installed pymongo has no "
                    "AsyncMongoClient: pip install 'pymongo>=4.9', or set harness_mongo_driver "
                    "to motor."
                ) from None
        else:
            return "pymongo"
    try:
        import motor  # noqa: F401
    except ImportError:
        if choice == "motor":
            raise BackendUnavailableError(
                "harness_mongo_driver is 'motor' but motor is not installed: pip install "
                "'harness[motor]' (or motor), or set harness_mongo_driver to pymongo or auto."
            ) from None
        raise BackendUnavailableError(
            "no MongoDB async driver is installed: pip install 'pymongo>=4.9' (or motor)."
        ) from None
    return "motor"


def _open(
    url: str, choice: str, timeout_ms: int = 10000
) -> tuple[Any, Callable[[], Awaitable[None]]]:
    """A client on *url* with the chosen driver, and the coroutine function that closes it."""
    if driver(choice) == "pymongo":
        from pymongo import AsyncMongoClient

        client: Any = AsyncMongoClient(
            url, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
        )
        return client, client.close
    from motor.motor_asyncio import AsyncIOMotorClient

    motor_client: Any = AsyncIOMotorClient(
        url, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
    )

    async def close() -> None:
        motor_client.close()

    return motor_client, close


def _offers_only_plain(host: str, port: int) -> bool:
    """Whether the server offers only the PLAIN mechanism to the harness's user (blocking: a
    started container's URL is built in a worker thread)."""
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(
        host, port, directConnection=True, serverSelectionTimeoutMS=10000
    )
    try:
        hello = client.admin.command("hello", saslSupportedMechs=f"admin.{USER}")
    finally:
        client.close()
    return list(hello.get("saslSupportedMechs", [])) == ["PLAIN"]
